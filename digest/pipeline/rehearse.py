"""Orchestrate rehearsals: `digest preview` (files, nothing sent) and `digest demo` (the
whole pipeline into an in-process sink). Part of the pipeline package, the composition root.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

from digest.audience.subscribers import normalize_address
from digest.config import Config
from digest.deliver.dispatch import Controls
from digest.deliver.message import PreparedMessage, build_message
from digest.model import (
    Edition,
    Subscriber,
)
from digest.pipeline import (
    SendSummary,
    build_edition,
    edition_id_for,
    fetch,
    render,
    render_fitted,
    send,
    sender_for,
    subscribers,
)
from digest.pipeline.variants import prepare_variants
from digest.sink.server import running_sink
from digest.store import Store
from digest.store.lock import hold_lock

log = logging.getLogger(__name__)

PREVIEW_KEY = b"digest-preview-key: links in previews are not valid tokens"


@dataclass(frozen=True)
class PreviewFiles:
    html: Path
    text: Path
    eml: Path
    stories: int
    note: str = ""  # why nothing was written, when nothing was

    @property
    def written(self) -> bool:
        return not self.note


def preview(
    config: Config,
    now: datetime,
    out: Path,
    environ: Mapping[str, str],
    to: str | None = None,
    edition_id: str | None = None,
) -> PreviewFiles:
    """Write preview.html, preview.txt and preview.eml without sending anything.

    With `edition_id` of a stored edition, that edition as it was sent; otherwise the next
    edition, built from the stories fetched now.
    """
    key = environ.get(config.newsletter.secret_env, "").encode() or PREVIEW_KEY
    database = config.database_path
    with hold_lock(database), Store.open(database) as store:
        rendered = store.edition(edition_id) if edition_id else None
        stories = len(store.edition_story_keys(edition_id)) if rendered and edition_id else 0
        edition: Edition | None = None
        if rendered is None:
            fetch(config, store, now)
            edition_id = edition_id or edition_id_for(config, now)
            built = build_edition(config, store, now, edition_id)
            if not built.clusters:  # a blank newsletter previews nothing
                since = now - timedelta(hours=config.ranking.lookback_hours)
                local = since.astimezone(ZoneInfo(config.schedule.timezone))
                return PreviewFiles(out / "preview.html", out / "preview.txt",
                                    out / "preview.eml", 0,
                                    note=f"nothing to send: 0 stories since "
                                         f"{local:%Y-%m-%d %H:%M %Z}; nothing written")
            fitted = render_fitted(config, built)
            rendered, edition = fitted.rendered, fitted.edition
            stories = len(edition.clusters)
        recipient = Subscriber(email="preview@example.com", name="Preview")
        if to:
            address = normalize_address(to)
            listed = next((s for s in subscribers(config, store)
                           if s.email.lower() == address.lower()), None)
            if listed is None:
                log.warning("preview: %s is not an active subscriber of any list; showing the "
                            "edition as a new subscriber with that address would get it",
                            address)
            recipient = listed or Subscriber(email=address)
            # The subscriber's own variant (their topics), as `send` would pick it.
            content = edition or store.edition_content(rendered.edition_id)
            variant = prepare_variants(store, rendered, content, [recipient],
                                       lambda e: render(config, e), keep=False
                                       ).for_subscriber(recipient)
            if variant is None:
                log.warning("preview: none of %s's topics (%s) has news in this edition; "
                            "send would skip them. Showing the whole edition",
                            address, ", ".join(recipient.topics))
            rendered = variant or rendered
    sender = sender_for(config, key)
    message = build_message(rendered, recipient, sender, now)
    out.mkdir(parents=True, exist_ok=True)
    files = PreviewFiles(out / "preview.html", out / "preview.txt", out / "preview.eml", stories)
    html_body = message.get_body(("html",))
    text_body = message.get_body(("plain",))
    assert isinstance(html_body, EmailMessage) and isinstance(text_body, EmailMessage)
    files.html.write_text(html_body.get_content(), encoding="utf-8")
    files.text.write_text(text_body.get_content(), encoding="utf-8")
    # The .eml is the message as `send` puts it on the wire, header for header: the email
    # package's own serialisation would RFC 2047-encode the long List-Unsubscribe, which no
    # mail client or provider would then read as a URL.
    files.eml.write_bytes(PreparedMessage(rendered, sender, now).wire(recipient))
    return files


@dataclass(frozen=True)
class DemoResult:
    delivered: int
    subscribers: int
    maildir: Path
    preview: Path
    summary: SendSummary


DEMO_KEY = b"digest-demo-key: not a secret, demo links only"


def demo(config: Config, directory: Path, environ: Mapping[str, str],
         controls: Controls | None = None) -> DemoResult:
    """The whole pipeline on the config's feeds into an in-process sink, all under `directory`.

    The edition is built as of one hour after the newest story, so sample feeds from any day
    make a full edition.
    """
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    maildir = directory / "maildir"
    with running_sink(maildir) as (handler, port):
        demo_config = dataclasses.replace(
            config,
            state=dataclasses.replace(config.state, database=str(directory / "state.sqlite3")),
            smtp=dataclasses.replace(config.smtp, host="127.0.0.1", port=port, security="none",
                                     username=""),
        )
        fetched_at = datetime.now().astimezone()
        with Store.open(demo_config.database_path) as store:
            fetch(demo_config, store, fetched_at)
            newest = store.newest_published()
        now = (newest or fetched_at) + timedelta(hours=1)
        summary = send(demo_config, now, environ, key=DEMO_KEY, controls=controls)
        files = preview(demo_config, now, directory, environ, edition_id=summary.edition)
        with Store.open(demo_config.database_path) as store:
            listed = sum(1 for _ in subscribers(demo_config, store))
        return DemoResult(handler.count, listed, maildir, files.html, summary)
