"""Signup pages: the HTML of /subscribe, /confirm and the reader's data pages.

In: plain values (the newsletter, what was entered, the errors, the form's stamp). Out: one
complete document per page, in the page shell of `pages.py` (same palette, autoescaped). The
forms work without JavaScript; every field has a label, errors are announced (`role="alert"`,
`aria-invalid`, `aria-describedby`) and the first wrong field gets the focus; the layout fits
a 320 px screen. No request, store or token handling here: that is `signup.py`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from digest.audience.pages import shell
from digest.render.brand import DEFAULT_BRAND, Brand

HONEYPOT = "website"  # people never see this field; a bot that fills in everything fills it

_FORM_STYLE = """<style>
.field{margin:0 0 1rem}
.field input[type=email],.field input[type=text]{box-sizing:border-box;width:100%;
font:1rem system-ui,sans-serif;padding:.6rem;border:1px solid #888;border-radius:4px}
.field input:focus,input:focus{outline:3px solid #e0a800}
.field label{font:600 .95rem system-ui,sans-serif}
.error{color:#8a1c1c;font-weight:600}
[aria-invalid=true]{border-color:#8a1c1c !important}
.alert{border-left:4px solid #8a1c1c;padding:.5rem 1rem;background:#fbeaea;margin:0 0 1rem}
.hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}
.consent{font-size:.95rem}
@media (max-width:400px){main{margin:0;padding:1rem;border-radius:0}}
</style>"""

_TEMPLATES = {
    "subscribe.html": """{% extends "base.html" %}{% block body %}""" + _FORM_STYLE + """
<h1>Get {{ newsletter }} in your inbox</h1>
<p>{{ about }}</p>
{% if errors %}<div class="alert" role="alert"><p><strong>Please check the form:</strong></p>
<ul>{% for field, message in errors.items() %}<li><a href="#{{ field }}">{{ message }}</a></li>
{% endfor %}</ul></div>{% endif %}
<form method="post" action="{{ action }}" novalidate>
<div class="field"><label for="email">Email address</label>
<input type="email" id="email" name="email" autocomplete="email" required
 value="{{ email }}" aria-describedby="email-help{% if errors.email %} email-error{% endif %}"
 {%- if errors.email %} aria-invalid="true" autofocus{% endif %}>
<span id="email-help" class="note">We send a link to confirm it first.</span>
{% if errors.email %}<p id="email-error" class="error">{{ errors.email }}</p>{% endif %}
</div>
<div class="field"><label for="name">Your name (optional)</label>
<input type="text" id="name" name="name" autocomplete="name" maxlength="200"
 value="{{ name }}" {%- if errors.name %} aria-invalid="true" aria-describedby="name-error"
 {%- if not errors.email %} autofocus{% endif %}{% endif %}>
{% if errors.name %}<p id="name-error" class="error">{{ errors.name }}</p>{% endif %}
</div>
{% if topics %}<fieldset id="topics"><legend>Topics (none ticked means all of them)</legend>
{% for topic in topics %}
<label><input type="checkbox" name="topics" value="{{ topic }}"
{%- if topic in chosen %} checked{% endif %}> {{ topic }}</label>
{% endfor %}
{% if errors.topics %}<p class="error">{{ errors.topics }}</p>{% endif %}
</fieldset>{% endif %}
<fieldset id="frequency"><legend>How often</legend>
<label><input type="radio" name="frequency" value="daily"
{%- if frequency != "weekly" %} checked{% endif %}> Every edition (daily)</label>
<label><input type="radio" name="frequency" value="weekly"
{%- if frequency == "weekly" %} checked{% endif %}> Once a week: the week's best</label>
{% if errors.frequency %}<p class="error">{{ errors.frequency }}</p>{% endif %}
</fieldset>
<div class="hp" aria-hidden="true"><label for="{{ honeypot }}">Leave this empty</label>
<input type="text" id="{{ honeypot }}" name="{{ honeypot }}" tabindex="-1" autocomplete="off">
</div>
<input type="hidden" name="stamp" value="{{ stamp }}">
<p class="consent">{{ consent }}</p>
<button type="submit">Subscribe</button>
</form>
{% endblock %}""",
    "check_inbox.html": """{% extends "base.html" %}{% block body %}
<h1 tabindex="-1" autofocus>Check your inbox</h1>
<p role="status">If <strong>{{ email }}</strong> can receive email, a message with a link
to confirm your subscription to <strong>{{ newsletter }}</strong> is on its way.
Nothing is sent until you confirm.</p>
<p class="note">The link works for {{ hours }} hours. Nothing there? Look in the spam folder;
we send at most one confirmation to an address every {{ minutes }} minutes.</p>
{% endblock %}""",
    "confirm.html": """{% extends "base.html" %}{% block body %}
<h1>Confirm your subscription</h1>
<p>Send <strong>{{ newsletter }}</strong> to <strong>{{ email }}</strong>{% if topics %}, on
{{ topics | join(", ") }}{% endif %}, {{ "once a week" if frequency == "weekly"
else "every edition" }}.</p>
{% if again %}<p role="alert">Press <strong>Confirm</strong> once more to finish.</p>
{% endif %}<form method="post" action="{{ action }}">
<input type="hidden" name="stamp" value="{{ stamp }}">
<button type="submit">Confirm</button>
</form>
<p class="note">Did not ask for this? Close this page: nothing happens without the button.</p>
{% endblock %}""",
    "confirmed.html": """{% extends "base.html" %}{% block body %}
<h1>You are subscribed</h1>
<p role="status"><strong>{{ email }}</strong> gets <strong>{{ newsletter }}</strong> from the
next edition. A welcome email is on its way.</p>
<p class="note"><a href="{{ preferences }}">Choose your topics and how often</a>.</p>
{% endblock %}""",
    "link_trouble.html": """{% extends "base.html" %}{% block body %}
<h1>{{ title }}</h1>
<p>{{ message }}</p>
{% if email %}<form method="post" action="{{ action }}">
<input type="hidden" name="email" value="{{ email }}">
{% for topic in topics %}<input type="hidden" name="topics" value="{{ topic }}">{% endfor %}
<input type="hidden" name="frequency" value="{{ frequency }}">
<input type="hidden" name="stamp" value="{{ stamp }}">
<button type="submit">Send me a new link</button>
</form>{% endif %}
{% endblock %}""",
    "delete.html": """{% extends "base.html" %}{% block body %}
<h1>Delete everything about {{ email }}?</h1>
<p>We remove the subscription, its history of consent, your choices and your address from
the record of what we sent. Only a one-way hash of the address is kept, so that no list
adds it back; to read {{ newsletter }} again, sign up again.</p>
<form method="post" action="{{ action }}">
<button type="submit">Delete me</button>
</form>
<p class="note"><a href="{{ data }}">Download your data first</a> from the preferences
page.</p>
{% endblock %}""",
    "deleted.html": """{% extends "base.html" %}{% block body %}
<h1>Deleted</h1>
<p role="status">We hold nothing about <strong>{{ email }}</strong> any more but a one-way
hash, and send it nothing.</p>
{% endblock %}""",
}

_ENV = shell(_TEMPLATES)

# Pasted into a publisher's page: a plain form (no script, no CORS), styles inline so the
# host page's stylesheet cannot reveal the honeypot, labels for every field.
_SNIPPET = """<form method="post" action="{{ action }}" class="digest-signup"
      accept-charset="utf-8">
  <p><strong>Get {{ newsletter }} in your email</strong></p>
  <p><label for="digest-email">Email address</label><br>
  <input type="email" id="digest-email" name="email" autocomplete="email" required></p>
  <p><label for="digest-name">Your name (optional)</label><br>
  <input type="text" id="digest-name" name="name" autocomplete="name" maxlength="200"></p>
{%- if topics %}
  <fieldset><legend>Topics (none ticked means all of them)</legend>
{%- for topic in topics %}
    <label><input type="checkbox" name="topics" value="{{ topic }}"> {{ topic }}</label><br>
{%- endfor %}
  </fieldset>
{%- endif %}
  <fieldset><legend>How often</legend>
    <label><input type="radio" name="frequency" value="daily" checked> Every edition</label><br>
    <label><input type="radio" name="frequency" value="weekly"> Once a week</label>
  </fieldset>
  <div style="position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden"
       aria-hidden="true"><label for="digest-{{ honeypot }}">Leave this empty</label>
    <input type="text" id="digest-{{ honeypot }}" name="{{ honeypot }}" tabindex="-1"
           autocomplete="off"></div>
  <p><small>{{ consent }}</small></p>
  <p><button type="submit">Subscribe</button></p>
</form>
"""


def _page(template: str, brand: Brand | None, **context: Any) -> str:
    """A page in the shared shell, in the publisher's brand (the default one when none)."""
    return _ENV.get_template(template).render(context, brand=brand or DEFAULT_BRAND)


def subscribe_page(
    newsletter: str, about: str, consent: str, action: str, stamp: str,
    topics: Sequence[str], *, email: str = "", name: str = "", chosen: Sequence[str] = (),
    frequency: str = "daily", errors: Mapping[str, str] | None = None,
    brand: Brand | None = None,
) -> str:
    """The signup form; with `errors` (field → message) it comes back as it was filled."""
    return _page("subscribe.html", brand, title="Subscribe", newsletter=newsletter, about=about,
                 consent=consent, action=action, stamp=stamp, topics=topics, email=email,
                 name=name, chosen=chosen, frequency=frequency,
                 errors=defaultdict(str, errors or {}),
                 honeypot=HONEYPOT)


def check_inbox_page(newsletter: str, email: str, hours: float, minutes: float, *,
                     brand: Brand | None = None) -> str:
    """The one answer to every well-formed signup, whatever became of it."""
    return _page("check_inbox.html", brand, title="Check your inbox", newsletter=newsletter,
                 email=email, hours=f"{hours:g}", minutes=f"{minutes:g}")


def confirm_page(newsletter: str, email: str, topics: Sequence[str], frequency: str,
                 action: str, stamp: str, again: bool = False, *,
                 brand: Brand | None = None) -> str:
    """What the confirmation link opens: the choices and one button (GET changes nothing);
    `again` when a press came too soon after the page, or without it."""
    return _page("confirm.html", brand, title="Confirm", newsletter=newsletter, email=email,
                 topics=topics, frequency=frequency, action=action, stamp=stamp,
                 again=again)


def confirmed_page(newsletter: str, email: str, preferences: str, *,
                   brand: Brand | None = None) -> str:
    return _page("confirmed.html", brand, title="Subscribed", newsletter=newsletter, email=email,
                 preferences=preferences)


def link_trouble_page(newsletter: str, title: str, message: str, action: str = "",
                      stamp: str = "", email: str = "", topics: Sequence[str] = (),
                      frequency: str = "daily", *, brand: Brand | None = None) -> str:
    """A used or expired confirmation link, offering a new one (when the address is known)."""
    return _page("link_trouble.html", brand, title=title, newsletter=newsletter, message=message,
                 action=action, stamp=stamp, email=email, topics=topics, frequency=frequency)


def delete_page(newsletter: str, email: str, action: str, data: str, *,
                brand: Brand | None = None) -> str:
    return _page("delete.html", brand, title="Delete my data", newsletter=newsletter, email=email,
                 action=action, data=data)


def deleted_page(newsletter: str, email: str, *, brand: Brand | None = None) -> str:
    return _page("deleted.html", brand, title="Deleted", newsletter=newsletter, email=email)


def snippet(newsletter: str, action: str, topics: Sequence[str], consent: str) -> str:
    """The signup form for a publisher's own pages (`digest form`)."""
    return shell({"snippet.html": _SNIPPET}).get_template("snippet.html").render(
        newsletter=newsletter, action=action, topics=topics, consent=consent,
        honeypot=HONEYPOT)
