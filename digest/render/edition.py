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
import textwrap
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import jinja2

from digest.errors import RenderError
from digest.ingest.sanitize import absolute_http_url, cap, clean_html, one_line
from digest.model import Cluster, Edition, Image, Rendered, Story

log = logging.getLogger(__name__)
T = TypeVar("T")

# The per-subscriber values every template may use, as `recipient.<name>`.
RECIPIENT_FIELDS = ("name", "email", "unsubscribe_url", "preferences_url", "browser_url")
TEXT_WIDTH = 72
TITLE_LIMIT = 300  # characters of a headline; a 10,000-character title is an attack, not news
ALT_LIMIT = 200
CONTENT_WIDTH = 536  # the 600 px container less its 32 px padding on each side
THUMB_WIDTH = 120
TEMPLATES = ("subject.txt.j2", "edition.html.j2", "edition.txt.j2")
_STYLE_BLOCK = re.compile(r"(<style[^>]*>)(.*?)(</style>)", re.S | re.I)


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
    """Render an edition's subject, HTML (CSS inlined) and text, with no size budget.

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
    raw = render_templates(edition, templates, timezone, nonce, extra)
    return dataclasses.replace(raw, html=inline_css(raw.html))


def render_templates(
    edition: Edition,
    templates: Path,
    timezone: tzinfo,
    nonce: str,
    extra: Mapping[str, Any] | None = None,
) -> Rendered:
    """The templates' output before inlining: what `render_edition` hands to premailer.

    Args and Raises: as for `render_edition`.
    """
    env = environment(templates)
    marks = placeholders(nonce)
    edition = one_story_per_source(edition)
    lead = edition.clusters[0].lead if edition.clusters else None
    context = {
        "edition": edition,
        "newsletter": edition.newsletter,
        "date": _date(edition.created, timezone),
        "story_count": len(edition.clusters),
        "lead": lead,
        "lead_image": _lead_image(edition),
        "recipient": marks,
        "base_url": "",
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
                disable_basic_attributes=["width", "height"],
                cssutils_logging_level=logging.CRITICAL,
            ).transform(pretty_print=False)
        )
    except Exception as e:  # premailer raises bare exceptions from lxml and cssutils
        raise RenderError(f"inlining the edition's CSS failed: {type(e).__name__}: {e}; "
                          "check the templates' <style> block") from e
    # cssutils pretty-prints what it keeps; the indentation would go to every subscriber.
    # One declaration a line stays: lines are kept far below SMTP's 998-byte limit.
    return _STYLE_BLOCK.sub(lambda m: m[1] + "\n".join(
        line.strip() for line in m[2].splitlines() if line.strip()) + m[3], inlined)


def one_story_per_source(edition: Edition) -> Edition:
    """The edition as a reader sees it: each cluster keeps its lead and one story of each
    other source, so "N sources" counts sources, not articles, and "also covered by" names
    each other source once and never the lead's own. A source is the feed's publisher when
    `[[feeds]] publisher` names one, else the feed's name (two feeds with one name are one
    source to a reader)."""
    def seen_as(story: Story) -> str:
        return story.publisher or story.source

    def dedupe(cluster: Cluster) -> Cluster:
        kept: dict[str, Story] = {}
        for story in cluster.stories:
            kept.setdefault(seen_as(story), story)
        if len(kept) == len(cluster.stories):
            return cluster
        return dataclasses.replace(cluster, stories=tuple(kept.values()))

    return dataclasses.replace(edition, sections=tuple(
        dataclasses.replace(s, clusters=tuple(dedupe(c) for c in s.clusters))
        for s in edition.sections))


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
        page = page.replace(mark, html.escape(values.get(field, ""), quote=True))
    return page


def archive_name(edition_id: str) -> str:
    """The archive file's stem for an edition id: never a path, whatever the id holds."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", edition_id.replace(".", "-")).strip("_-") or "edition"


def environment(templates: Path) -> jinja2.Environment:
    """The Jinja2 environment over an operator's templates folder.

    Raises:
        RenderError: the folder does not hold the templates.
    """
    missing = [name for name in TEMPLATES if not (templates / name).is_file()]
    if missing:
        raise RenderError(
            f"{templates}: no {', '.join(missing)} here; set [newsletter] templates to the "
            "folder holding the templates (copy the bundled templates/ to start)"
        )
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates),
        autoescape=lambda name: bool(name and name.endswith((".html.j2", ".html"))),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["wrap"] = _strict(_wrap)
    env.filters["one_line"] = _strict(one_line)
    env.filters["http_url"] = _strict(_http_url)
    env.filters["allowlisted"] = _strict(_allowlisted)
    env.filters["headline"] = _strict(_headline)
    env.globals["age"] = _strict(_age)
    env.globals["clip"] = _strict(cap)
    env.globals["image_box"] = _strict(image_box)
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


@dataclass(frozen=True)
class ImageBox:
    """An image as the templates show it: safe URL, the size to draw it, alt text."""

    url: str
    width: int
    height: int
    alt: str


def image_box(image: Image | None, width: int, story: Story | None = None) -> ImageBox | None:
    """An image scaled to `width` px wide, or None when it must not be shown.

    Only absolute http(s) images are shown, and never a 1x1 (a tracking pixel). Without known
    dimensions the height assumes 3:2, the commonest news photo shape; the stylesheet then
    lets clients that can keep the real proportions do so.
    """
    if image is None:
        return None
    url = absolute_http_url(image.url)
    if not url or (image.width is not None and image.width <= 1) or (
        image.height is not None and image.height <= 1
    ):
        return None
    if image.width and image.height:
        height = max(1, round(image.height * width / image.width))
    else:
        height = round(width * 2 / 3)
    alt = one_line(image.alt) or (_headline(story.title) if story else "")
    return ImageBox(url=url, width=width, height=height, alt=cap(alt, ALT_LIMIT))


def _lead_image(edition: Edition) -> ImageBox | None:
    lead = edition.clusters[0].lead if edition.clusters else None
    return image_box(lead.image, CONTENT_WIDTH, lead) if lead else None


def _http_url(url: str) -> str:
    """The URL if it is absolute http(s), else "" (templates then show text, not a link)."""
    return absolute_http_url(url)


def _allowlisted(markup: str) -> str:
    """Summary HTML through the allow-list again: a Story built anywhere cannot inject.
    Templates mark the result `| safe`; only this filter's output may be."""
    return clean_html(markup)


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
                          "(see the templates' context in digest/render.py)") from e
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
        break_long_words=True, break_on_hyphens=False,
    )
