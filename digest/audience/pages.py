"""Pages: the HTML that `digest serve` shows to people (unsubscribe, preferences, archive, errors).

In: plain values (the newsletter's name, an address, topics, edition summaries). Out: one
complete HTML document per page, rendered by Jinja2 with autoescape, so an address or a
subject can never become markup. No request, store or token handling here: that is `web.py`.
Colours and logo come from the same `Brand` as the email's (digest/render/brand.py), so a
reader who clicks from the email lands on a page that looks like it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jinja2

from digest.render.brand import DEFAULT_BRAND, Brand
from digest.store import EditionSummary

_BASE = """<!doctype html>
<html lang="{{ brand.language }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{ title }} · {{ newsletter }}</title>
{% set p = brand.palette %}
<style>
body{margin:0;background:{{ p.page }};color:{{ p.ink }};
font:17px/1.5 Georgia,'Times New Roman',serif}
main{max-width:34rem;margin:3rem auto;padding:2rem;background:{{ p.surface }};border-radius:6px;
box-shadow:0 1px 3px rgba(0,0,0,.12);border-top:5px solid {{ brand.accent }}}
h1{font-size:1.5rem;line-height:1.25;margin:0 0 1rem}
.brand{font:600 .875rem/1.2 system-ui,sans-serif;letter-spacing:.08em;text-transform:uppercase;
color:{{ brand.accent }};margin-bottom:1.5rem}
.brand img{display:block;height:48px;width:auto;max-width:100%}
button{font:600 1rem system-ui,sans-serif;padding:.8rem 1.4rem;border:0;border-radius:4px;
background:{{ brand.accent }};color:#fff;cursor:pointer}
button:focus{outline:3px solid #e0a800}
fieldset{border:1px solid {{ p.rule }};border-radius:4px;margin:0 0 1rem;padding:.8rem 1rem}
label{display:block;padding:.2rem 0}
.note{color:{{ p.muted }};font-size:.9rem}
ul.editions{padding:0;list-style:none}
ul.editions li{padding:.5rem 0;border-bottom:1px solid {{ p.rule }}}
a{color:{{ brand.accent }}}
@media (prefers-color-scheme: dark){
body{background:{{ p.dark_page }};color:{{ p.dark_ink }}}
main{background:{{ p.dark_surface }};border-top-color:{{ brand.accent_dark }}}
.brand,a{color:{{ brand.accent_dark }}}
.note{color:{{ p.dark_muted }}}
fieldset,ul.editions li{border-color:{{ p.dark_rule }}}
}
</style></head>
<body><main>
<div class="brand">{% if brand.logo_url -%}
<img src="{{ brand.logo_url }}" alt="{{ newsletter }}">{% else %}{{ newsletter }}{% endif %}</div>
{% block body %}{% endblock %}
</main></body></html>
"""

_TEMPLATES = {
    "base.html": _BASE,
    "unsubscribe.html": """{% extends "base.html" %}{% block body %}
<h1>Unsubscribe from {{ newsletter }}?</h1>
<p>We will stop sending <strong>{{ newsletter }}</strong> to <strong>{{ email }}</strong>.</p>
<form method="post" action="{{ action }}">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe {{ email }}</button>
</form>
<p class="note">Rather hear less often, or only about some topics?
<a href="{{ preferences }}">Choose what you get</a>.</p>
{% endblock %}""",
    "unsubscribed.html": """{% extends "base.html" %}{% block body %}
<h1>You are unsubscribed</h1>
<p><strong>{{ email }}</strong> will get no more email from <strong>{{ newsletter }}</strong>.
</p>
<p class="note">Unsubscribed by mistake? Write to the sender of the newsletter to be added back.
</p>
{% endblock %}""",
    "preferences.html": """{% extends "base.html" %}{% block body %}
<h1>What {{ email }} gets</h1>
{% if saved %}<p role="status"><strong>Saved.</strong> This applies from the next edition.</p>
{% endif %}
{% if suppressed %}<p><strong>{{ email }} is unsubscribed</strong>: nothing is sent to it,
whatever is chosen here.</p>{% endif %}
<form method="post" action="{{ action }}">
<fieldset><legend>Topics (none ticked means all of them)</legend>
{% for topic in topics %}
<label><input type="checkbox" name="topics" value="{{ topic }}"
{%- if topic in chosen %} checked{% endif %}> {{ topic }}</label>
{% endfor %}
</fieldset>
<fieldset><legend>How often</legend>
<label><input type="radio" name="frequency" value="daily"
{%- if frequency == "daily" %} checked{% endif %}> Every edition (daily)</label>
<label><input type="radio" name="frequency" value="weekly"
{%- if frequency == "weekly" %} checked{% endif %}> Once a week: the week's best</label>
</fieldset>
<button type="submit">Save</button>
</form>
<p class="note"><a href="{{ unsubscribe }}">Unsubscribe instead</a>.</p>
{# The same token, for the reader's data: both act only on a POST. #}
{% set query = action.partition("?")[2] %}
<h2>Your data</h2>
<form method="post" action="data?{{ query }}">
<button type="submit">Download my data</button>
</form>
<p class="note">A JSON file of everything we hold about {{ email }}.
<a href="delete?{{ query }}">Delete me</a>: remove it all.</p>
{% endblock %}""",
    "archive.html": """{% extends "base.html" %}{% block body %}
<h1>Past editions</h1>
{% if editions %}<ul class="editions">
{% for e in editions %}<li><a href="{{ e.id | urlencode }}">{{ e.subject }}</a>
<span class="note">{{ "Weekly" if e.id.startswith("weekly-") else "Daily" }},
{{ e.created.strftime("%Y-%m-%d") }}</span></li>
{% endfor %}</ul>
{% else %}<p>No edition has been sent yet.</p>{% endif %}
{% endblock %}""",
    "error.html": """{% extends "base.html" %}{% block body %}
<h1>{{ title }}</h1>
<p>{{ message }}</p>
{% endblock %}""",
}

_ENV = jinja2.Environment(
    loader=jinja2.DictLoader(_TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
)


def shell(templates: Mapping[str, str]) -> jinja2.Environment:
    """An environment whose `templates` extend this module's page shell ("base.html"), so
    every page digest serves looks the same."""
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.DictLoader(dict(templates)),
                                    jinja2.DictLoader(_TEMPLATES)]),
        autoescape=True, undefined=jinja2.StrictUndefined)


def _page(template: str, brand: Brand | None = None, **context: Any) -> str:
    """A page in the shared shell, in the publisher's brand (the default one when none)."""
    return _ENV.get_template(template).render(context, brand=brand or DEFAULT_BRAND)


def unsubscribe_page(newsletter: str, email: str, action: str, preferences: str, *,
                     brand: Brand | None = None) -> str:
    """The page an unsubscribe link opens: names the newsletter and the address; one button."""
    return _page("unsubscribe.html", brand, title="Unsubscribe", newsletter=newsletter,
                 email=email, action=action, preferences=preferences)


def unsubscribed_page(newsletter: str, email: str, *, brand: Brand | None = None) -> str:
    """The confirmation after unsubscribing (also when the address already was)."""
    return _page("unsubscribed.html", brand, title="Unsubscribed", newsletter=newsletter,
                 email=email)


def preferences_page(
    newsletter: str, email: str, action: str, unsubscribe: str, topics: Sequence[str],
    chosen: Sequence[str], frequency: str, saved: bool, suppressed: bool, *,
    brand: Brand | None = None,
) -> str:
    """The topics and frequency form, showing what applies now."""
    return _page("preferences.html", brand, title="Preferences", newsletter=newsletter,
                 email=email, action=action, unsubscribe=unsubscribe, topics=topics,
                 chosen=chosen, frequency=frequency, saved=saved, suppressed=suppressed)


def archive_page(newsletter: str, editions: Sequence[EditionSummary], *,
                 brand: Brand | None = None) -> str:
    """The sent editions, newest first, each linking to its page."""
    return _page("archive.html", brand, title="Archive", newsletter=newsletter, editions=editions)


def error_page(newsletter: str, title: str, message: str, *, brand: Brand | None = None) -> str:
    """An error for people: what went wrong and what to do, never a stack trace."""
    return _page("error.html", brand, title=title, newsletter=newsletter, message=message)
