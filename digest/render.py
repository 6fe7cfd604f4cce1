"""Render: turn an `Edition` into the HTML and text an email carries.

In: an edition, the templates folder, the newsletter's settings and a nonce for placeholders.
Out: a `Rendered` with the CSS inlined (premailer, once per edition variant) and
per-subscriber placeholders still in it, so personalising costs a string join, not a render.
"""

from __future__ import annotations

import logging
import textwrap
import traceback
from collections.abc import Mapping
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import jinja2
from premailer import Premailer

from digest.errors import RenderError
from digest.model import Edition, Rendered, Story
from digest.sanitize import cap, one_line

log = logging.getLogger(__name__)

# The per-subscriber values every template may use, as `recipient.<name>`.
RECIPIENT_FIELDS = ("name", "email", "unsubscribe_url", "preferences_url", "browser_url")
TEXT_WIDTH = 72


def placeholders(nonce: str) -> dict[str, str]:
    """Markers for the per-subscriber values; the nonce makes them unguessable by feeds."""
    return {field: f"@@digest-{nonce}-{field}@@" for field in RECIPIENT_FIELDS}


def render_edition(
    edition: Edition,
    templates: Path,
    timezone: tzinfo,
    nonce: str,
    extra: Mapping[str, Any] | None = None,
) -> Rendered:
    """Render an edition's subject, HTML (CSS inlined) and text.

    Args:
        edition: what to render.
        templates: the folder holding edition.html.j2, edition.txt.j2 and subject.txt.j2.
        timezone: the zone the edition's date is shown in.
        nonce: makes the placeholders unique to this render.
        extra: more template values (newsletter address, base URL...).
    Returns:
        The rendered edition with placeholders for each recipient's values.
    Raises:
        RenderError: a template is missing or fails, named with its file and line.
    """
    env = _environment(templates)
    marks = placeholders(nonce)
    context = {
        "edition": edition,
        "newsletter": edition.newsletter,
        "date": _date(edition.created, timezone),
        "story_count": len(edition.clusters),
        "lead": edition.clusters[0].lead if edition.clusters else None,
        "recipient": marks,
        **(extra or {}),
    }
    subject = one_line(_render(env, "subject.txt.j2", context))
    raw_html = _render(env, "edition.html.j2", context)
    text = _render(env, "edition.txt.j2", context)
    html = inline_css(raw_html)
    return Rendered(
        edition_id=edition.id, subject=cap(subject, 200), html=html, text=text,
        placeholders=marks,
    )


def inline_css(html: str) -> str:
    """Move the stylesheet into style= attributes; keep @media rules in a <style> block."""
    return str(
        Premailer(
            html,
            allow_network=False,
            keep_style_tags=False,
            remove_classes=False,
            strip_important=False,
            disable_validation=True,
            cssutils_logging_level=logging.CRITICAL,
        ).transform(pretty_print=False)
    )


def _environment(templates: Path) -> jinja2.Environment:
    if not (templates / "edition.html.j2").is_file():
        raise RenderError(
            f"{templates}: no edition.html.j2 here; set [newsletter] templates to the folder "
            "holding the templates"
        )
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates),
        autoescape=lambda name: bool(name and name.endswith((".html.j2", ".html"))),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["wrap"] = _wrap
    env.globals["age"] = _age
    env.globals["clip"] = cap
    return env


def _render(env: jinja2.Environment, name: str, context: Mapping[str, Any]) -> str:
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as e:
        raise RenderError(f"{e.filename or name}:{e.lineno}: template error: {e.message}") from e
    except jinja2.TemplateNotFound as e:
        raise RenderError(f"{env.loader and getattr(env.loader, 'searchpath', [''])[0]}: "
                          f"template {e.name} not found") from e
    except Exception as e:
        where = _template_frame(e) or name
        raise RenderError(f"{where}: template error: {type(e).__name__}: {e}") from e


def _template_frame(error: BaseException) -> str:
    """`file:line` of the innermost template frame in a rendering error's traceback."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename.endswith(".j2")]
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""


def _date(when: datetime, timezone: tzinfo) -> str:
    local = when.astimezone(timezone)
    return f"{local:%A}, {local:%B} {local.day}, {local.year}"


def _age(story: Story, now: datetime) -> str:
    """How long ago a story was published, as a reader would say it."""
    minutes = int(max((now - story.published).total_seconds(), 0) // 60)
    if minutes < 60:
        return "just now" if minutes < 5 else f"{minutes} min ago"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h ago"
    return f"{hours // 24} days ago"


def _wrap(text: str, width: int = TEXT_WIDTH, indent: str = "") -> str:
    return textwrap.fill(
        text, width=width, initial_indent=indent, subsequent_indent=indent,
        break_long_words=False, break_on_hyphens=False,
    )
