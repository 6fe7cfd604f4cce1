"""Notices: the two emails a signup sends one reader, the confirmation and the welcome.

In: plain values (the newsletter's name, the address, the reader's choices, the links). Out:
a `Notice` (recipient, subject, text and HTML parts) rendered from this package's templates
(`templates/confirm.*.j2`, `templates/welcome.*.j2`; HTML autoescaped, undefined names are
errors). Putting a notice on the wire is the deliver stage's work: the web app is handed a
`Mail` callable by the composition root.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jinja2

from digest.errors import RenderError


@dataclass(frozen=True)
class Notice:
    """One email to one reader, outside any edition."""

    to: str
    subject: str
    text: str
    html: str
    kind: str  # "confirm" or "welcome": a header for filters, and for the logs


# Sends one notice, or raises SendError: the SMTP server could not be reached or refused it.
Mail = Callable[[Notice], None]

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("digest.audience", "templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",),
                                        default_for_string=True),
    undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
)


def confirm_notice(newsletter: str, email: str, topics: Sequence[str], frequency: str,
                   confirm_url: str, hours: float) -> Notice:
    """The email with the confirmation link."""
    subject = f"Confirm your subscription to {newsletter}"
    context = {"newsletter": newsletter, "email": email, "topics": list(topics),
               "frequency": frequency, "confirm_url": confirm_url, "hours": f"{hours:g}",
               "subject": subject}
    return Notice(email, subject, _render("confirm.txt.j2", context),
                  _render("confirm.html.j2", context), "confirm")


def welcome_notice(newsletter: str, email: str, name: str, topics: Sequence[str],
                   frequency: str, latest_url: str, preferences_url: str,
                   unsubscribe_url: str) -> Notice:
    """The email that greets a reader who confirmed, with the latest edition's link."""
    subject = f"Welcome to {newsletter}"
    context = {"newsletter": newsletter, "email": email, "name": name, "topics": list(topics),
               "frequency": frequency, "latest_url": latest_url,
               "preferences_url": preferences_url, "unsubscribe_url": unsubscribe_url,
               "subject": subject}
    return Notice(email, subject, _render("welcome.txt.j2", context),
                  _render("welcome.html.j2", context), "welcome")


def _render(template: str, context: dict[str, Any]) -> str:
    try:
        return _ENV.get_template(template).render(context)
    except jinja2.TemplateError as e:
        raise RenderError(f"the {template} notice template failed: {e}; reinstall digest") from e
