"""Conversions between our values and the database's columns; used by every store module."""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from digest.model import Image, Story
from digest.store.backend import Database


def story_values(s: Story, now: datetime) -> tuple[Any, ...]:
    return (
        s.url, s.title, s.summary_html, s.summary_text, iso(s.published), iso(now), s.author,
        json.dumps(s.categories), image_json(s.image), s.source, s.section, s.weight,
        int(s.featured), s.position,
    )


def story_from_row(r: Any) -> Story:
    image = json.loads(r["image"]) if r["image"] else None
    return Story(
        feed_url=r["feed_url"], source=r["source"], section=r["section"], id=r["story_id"],
        url=r["url"], title=r["title"], summary_html=r["summary_html"],
        summary_text=r["summary_text"], published=dt(r["published"]), author=r["author"],
        categories=tuple(json.loads(r["categories"])),
        image=Image(**image) if image else None, weight=r["weight"],
        featured=bool(r["featured"]), position=r["position"],
    )


def image_json(image: Image | None) -> str | None:
    if image is None:
        return None
    # Spelled out: dataclasses.asdict deep-copies, and this runs for every stored story.
    return json.dumps({"url": image.url, "width": image.width, "height": image.height,
                       "alt": image.alt})


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds")


def dt(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


class Tables:
    """What every store module's methods share: the connection and write transactions."""

    _db: Database

    def _transaction(self) -> AbstractContextManager[None]:
        raise NotImplementedError  # provided by Store
