"""Render: turn an `Edition` into the HTML and text an email carries.

In: an edition, the templates folder, the time zone its date is shown in and a nonce for
placeholders. Out: a `Rendered` with the CSS inlined (premailer, once per edition variant) and
per-subscriber placeholders still in it, so personalising costs a string join, not a render.
Feed text is treated as hostile here too, not only in parse: titles become one line, summaries
pass the allow-list again, links and images must be absolute http(s). Keeping the HTML under
the clipping limit is `digest/budget.py`'s job; it calls back into `render_edition`.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import logging
import re
import traceback
from collections.abc import Callable, Mapping
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from digest.errors import RenderError
from digest.ingest.sanitize import absolute_http_url, cap, clean_html, one_line
from digest.model import Edition, Rendered, Story
from digest.render.brand import DEFAULT_BRAND, Brand
from digest.render.images import THUMB_WIDTH, image_box, lead_box, thumb_box
from digest.render.periods import absolute_time, day_label, is_weekly, period_label
from digest.render.words import (
    BREAK,
    PREHEADER_SPACER,
    breakable,
    breakable_html,
    shorten,
    subject_line,
    text_paragraphs,
    wrap,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

# The per-subscriber values every template may use, as `recipient.<name>`.
RECIPIENT_FIELDS = ("name", "email", "unsubscribe_url", "preferences_url", "browser_url")
TEXT_WIDTH = 72
TITLE_LIMIT = 300  # characters of a headline; a 10,000-character title is an attack, not news
_STYLE_BLOCK = re.compile(r"(<style[^>]*>)(.*?)(</style>)", re.S | re.I)
_ADDRESS_BREAKS = re.compile(r"([@.])")
_BODY_TAG = re.compile(r"</?body\b[^>]*>\n?", re.I)


def placeholders(nonce: str) -> dict[str, str]:
    """Markers for the per-subscriber values; the nonce makes them unguessable by feeds."""
    return {field: f"@@digest-{nonce}-{field}@@" for field in RECIPIENT_FIELDS}


def html_value(name: str, value: str) -> str:
    """One per-subscriber value as the HTML part carries it: escaped, and the address given
    break points (zero-width spaces) after its @ and dots, so a long one wraps on a phone in
    clients that ignore word-break (Gmail, Yahoo). Templates show `recipient.email` as text,
    never in an attribute."""
    value = html.escape(value, quote=True)
    return _ADDRESS_BREAKS.sub(r"\1" + BREAK, value) if name == "email" else value


def html_values(values: Mapping[str, str]) -> dict[str, str]:
    """Every per-subscriber value as the HTML part carries it (see `html_value`)."""
    return {name: html_value(name, value) for name, value in values.items()}


def render_edition(
    edition: Edition,
    templates: Path | None,
    timezone: tzinfo,
    nonce: str,
    extra: Mapping[str, Any] | None = None,
    archive: bool = False,
) -> Rendered:
    """Render an edition's subject, HTML (CSS inlined) and text, with no size budget.

    Args:
        edition: what to render.
        templates: the operator's folder of template overrides, or None for the bundled ones.
        timezone: the zone the edition's date is shown in.
        nonce: makes the placeholders unique to this render.
        extra: more template values (base_url; brand, a `Brand`, else the default one).
        archive: for the archive page, read any time later: absolute story times.
    Returns:
        The rendered edition with placeholders for each recipient's values.
    Raises:
        RenderError: a template is missing or fails, named with its file and line.
    """
    raw = render_templates(edition, templates, timezone, nonce, extra, archive)
    return dataclasses.replace(raw, html=inline_css(raw.html))


def render_templates(
    edition: Edition,
    templates: Path | None,
    timezone: tzinfo,
    nonce: str,
    extra: Mapping[str, Any] | None = None,
    archive: bool = False,
) -> Rendered:
    """The templates' output before inlining: what `render_edition` hands to premailer.

    Args and Raises: as for `render_edition`.
    """
    env = environment(templates)
    marks = placeholders(nonce)
    clusters = edition.clusters
    lead = clusters[0].lead if clusters else None
    brand = (extra or {}).get("brand", DEFAULT_BRAND)
    period = period_label(edition.id, edition.created, timezone)
    date = period  # a day, or a week for a weekly edition
    weekly = is_weekly(edition.id)
    following = [_headline(c.lead.title) for c in clusters[1:3]]

    def story_time(story: Story) -> str:
        if archive:  # read any time later: never "4 h ago"
            return absolute_time(story.published, timezone)
        return day_label(story.published, timezone) if weekly else _age(story, edition.created)

    # Per edition, so macros (imported without context) see it too.
    env.globals["story_time"] = _strict(story_time)
    context = {
        "edition": edition,
        "newsletter": edition.newsletter,
        "date": date,
        "period": period,
        "weekly": weekly,
        "masthead": f"{period} · {len(clusters)} stories",
        "story_count": len(clusters),
        "lead": lead,
        "lead_image": lead_box(lead),
        # The inbox's second line: what the subject (the lead headline) does not say yet.
        "preheader": " · ".join(following) or f"{one_line(edition.newsletter)}, {date}",
        "preheader_spacer": PREHEADER_SPACER,
        "recipient": marks,
        "base_url": "",
        "brand": brand,
        "logo_url": absolute_http_url(brand.logo_url) if isinstance(brand, Brand) else "",
        **(extra or {}),
    }
    subject = one_line(_render(env, "subject.txt.j2", context))
    return Rendered(
        edition_id=edition.id, subject=cap(subject, 200),
        html=_render(env, "edition.html.j2", context),
        text=_render(env, "edition.txt.j2", context), placeholders=marks,
    )


def inline_css(markup: str) -> str:
    """Move the stylesheet into style= attributes; keep @media rules in a <style> block.

    premailer keeps what it cannot inline (the `@media` width and `prefers-color-scheme`
    rules) in a <style> element even with keep_style_tags=False; tests/test_render.py checks
    that. It never fetches anything (allow_network=False), so a `<link>` to remote CSS in an
    operator's template stays dead instead of slowing every render.
    """
    # Imported here: premailer with cssutils and requests takes about 0.2 s to import, which
    # every command that never renders (fetch, status, rank, sink) would pay at start.
    from premailer import Premailer

    try:
        inlined = str(
            Premailer(
                markup,
                allow_network=False,
                keep_style_tags=False,
                remove_classes=False,
                strip_important=False,
                disable_validation=True,
                # premailer would copy CSS widths into width= and height= attributes, turning
                # an image's width="536" height="302" into width="100%" height="auto", which
                # Outlook (it reads only the attributes) draws wrongly. The templates set them.
                disable_basic_attributes=["width", "height", "bgcolor"],
                cssutils_logging_level=logging.CRITICAL,
            ).transform(pretty_print=False)
        )
    except Exception as e:  # premailer raises bare exceptions from lxml and cssutils
        raise RenderError(f"inlining the edition's CSS failed: {type(e).__name__}: {e}; "
                          "check the templates' <style> block") from e
    # lxml writes the <body> the template leaves out; Outlook for Mac drops that element and
    # Gmail and Yahoo replace it, so the template carries everything on its wrapper instead.
    inlined = _BODY_TAG.sub("", inlined)
    # cssutils pretty-prints what it keeps; the indentation would go to every subscriber.
    # One declaration a line stays: lines are kept far below SMTP's 998-byte limit.
    return _STYLE_BLOCK.sub(lambda m: m[1] + "\n".join(
        line.strip() for line in m[2].splitlines() if line.strip()) + m[3], inlined)


def archive_page(rendered: Rendered, base_url: str) -> str:
    """The edition as a standalone "view in browser" page: no one's address or token in it.

    Args:
        rendered: the edition as sent.
        base_url: where `digest serve` answers, without a trailing slash.
    Returns:
        The HTML page, placeholders filled with values that fit every reader.
    """
    values = {
        "name": "",
        "email": "your email address",
        "unsubscribe_url": f"{base_url}/unsubscribe",
        "preferences_url": f"{base_url}/preferences",
        "browser_url": f"{base_url}/archive/{quote(archive_name(rendered.edition_id))}",
    }
    page = rendered.html
    for field, mark in rendered.placeholders.items():
        page = page.replace(mark, html_value(field, values.get(field, "")))
    return page


def archive_name(edition_id: str) -> str:
    """The archive file's stem for an edition id: never a path, whatever the id holds."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", edition_id.replace(".", "-")).strip("_-") or "edition"


def environment(templates: Path | None) -> jinja2.Environment:
    """The Jinja2 environment over the bundled templates, with an operator's folder in front.

    A file in `templates` wins over the bundled one of the same name, so an operator can change
    one template without copying the rest (and gets later fixes to the others on upgrade).

    Raises:
        RenderError: `templates` is given but is not a folder.
    """
    loaders: list[jinja2.BaseLoader] = [jinja2.PackageLoader("digest.render", "templates")]
    if templates is not None:
        if not templates.is_dir():
            raise RenderError(
                f"{templates}: no such folder; set [newsletter] templates to a folder of template "
                "overrides (digest init --templates writes one), or leave it out"
            )
        loaders.insert(0, jinja2.FileSystemLoader(templates))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=lambda name: bool(name and name.endswith((".html.j2", ".html"))),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["wrap"] = _strict(wrap)
    env.filters["breakable"] = _strict(breakable)
    env.filters["breakable_html"] = _strict(_breakable_summary)
    env.filters["shorten"] = _strict(shorten)
    env.globals["subject_line"] = _strict(subject_line)
    env.globals["paragraphs"] = _strict(text_paragraphs)
    env.filters["one_line"] = _strict(one_line)
    env.filters["http_url"] = _strict(_http_url)
    env.filters["allowlisted"] = _strict(_allowlisted)
    env.filters["headline"] = _strict(_headline)
    env.globals["age"] = _strict(_age)
    env.globals["clip"] = _strict(cap)
    env.globals["image_box"] = _strict(image_box)
    env.globals["thumb_box"] = _strict(thumb_box)
    env.globals["thumb_width"] = THUMB_WIDTH
    return env


def _strict(function: Callable[..., T]) -> Callable[..., T]:
    """`function` failing with Jinja's own "is undefined" error when given an undefined
    value (a misspelt name in an operator's template), not with a TypeError deep inside."""

    @functools.wraps(function)
    def checked(*args: Any, **kwargs: Any) -> T:
        for value in (*args, *kwargs.values()):
            if isinstance(value, jinja2.Undefined):
                value._fail_with_undefined_error()
        return function(*args, **kwargs)

    return checked


def _http_url(url: str) -> str:
    """The URL if it is absolute http(s), else "" (templates then show text, not a link)."""
    return absolute_http_url(url)


def _allowlisted(markup: str) -> str:
    """Summary HTML through the allow-list again: a Story built anywhere cannot inject.
    Templates mark the result `| safe`; only this filter's output may be."""
    return clean_html(markup)


def _breakable_summary(markup: str) -> Markup:
    """Summary HTML through the allow-list again, then given break points in long words."""
    return breakable_html(clean_html(markup))


def _headline(title: str) -> str:
    return cap(one_line(title), TITLE_LIMIT)


def _render(env: jinja2.Environment, name: str, context: Mapping[str, Any]) -> str:
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as e:
        raise RenderError(
            f"{e.filename or e.name or name}:{e.lineno}: template syntax error: {e.message}; "
            "fix the template"
        ) from e
    except jinja2.TemplateNotFound as e:
        folder = getattr(env.loader, "searchpath", [""])[0]
        raise RenderError(f"{folder}: template {e.name} not found (needed by {name}); "
                          "add it to the templates folder") from e
    except jinja2.UndefinedError as e:
        where = _template_frame(e) or name
        raise RenderError(f"{where}: template error: {e.message}; check the name's spelling "
                          "(see the templates' context in digest/render/edition.py)") from e
    except Exception as e:
        where = _template_frame(e) or name
        raise RenderError(f"{where}: template error: {type(e).__name__}: {e}") from e


def _template_frame(error: BaseException) -> str:
    """`file:line` of the innermost template frame in a rendering error's traceback."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename.endswith(".j2")]
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""


def _age(story: Story, now: datetime) -> str:
    """How long ago a story was published, as a reader would say it."""
    minutes = int(max((now - story.published).total_seconds(), 0) // 60)
    if minutes < 60:
        return "just now" if minutes < 5 else f"{minutes} min ago"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h ago"
    return f"{hours // 24} days ago"
