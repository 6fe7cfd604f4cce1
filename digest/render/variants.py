"""Variants: what each subscriber gets, decided from what they asked for.

In: subscribers (from the lists), their saved preferences (which win), an `Edition`. Out: each
subscriber's `Variant` (topics, frequency), the edition filtered to a variant's topics, and a
cache that renders each variant once per edition. Pure functions, except `VariantRenders`,
which calls the render and store functions it is given.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo

from digest.model import Edition, Frequency, Rendered, Subscriber

log = logging.getLogger(__name__)

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class Variant:
    """A group of subscribers who get the same edition: topics (empty = all) and frequency."""

    topics: tuple[str, ...]
    frequency: Frequency

    @property
    def key(self) -> str:
        """A stable name for the variant, as stored with its render."""
        return f"{self.frequency}:" + ";".join(self.topics)


def with_preferences(
    subscriber: Subscriber,
    preferences: Mapping[str, tuple[tuple[str, ...], Frequency]],
    known: Collection[str] | None = None,
) -> Subscriber:
    """The subscriber as they last chose on the preferences page; the list row otherwise.

    Args:
        subscriber: as read from the operator's list.
        preferences: address → (topics, frequency) saved by the subscriber.
        known: the sections that exist now; saved topics no longer among them are dropped
            (and when none is left, the subscriber gets all topics rather than nothing).
    Returns:
        The subscriber with the saved topics and frequency, when there are any.
    """
    chosen = preferences.get(subscriber.email)
    if chosen is None:
        return subscriber
    topics = chosen[0] if known is None else tuple(t for t in chosen[0] if t in known)
    return dataclasses.replace(subscriber, topics=tuple(sorted(topics)), frequency=chosen[1])


def variant_of(subscriber: Subscriber) -> Variant:
    """The variant a subscriber belongs to."""
    return Variant(tuple(sorted(subscriber.topics)), subscriber.frequency)


def filter_edition(edition: Edition, topics: Iterable[str]) -> Edition:
    """The edition with only the sections named in `topics`; all of it when `topics` is empty.

    Returns:
        An edition with the same id (one ledger per edition, whatever the variant); it may
        have no sections, and then the variant gets nothing this time.
    """
    wanted = {t.lower() for t in topics}
    if not wanted:
        return edition
    sections = []
    for s in edition.sections:
        if s.name.lower() in wanted:
            sections.append(s)
            continue
        # "Top stories" holds clusters of every section, and a cluster led by one feed may be
        # covered by feeds of other sections: keep those that touch a wanted section.
        kept = tuple(c for c in s.clusters
                     if {c.section.lower(), *(st.section.lower() for st in c.stories)} & wanted)
        if kept:
            sections.append(dataclasses.replace(s, clusters=kept))
    return dataclasses.replace(edition, sections=tuple(sections))


def weekly_due(now: datetime, timezone: tzinfo, weekday: str) -> bool:
    """Whether a send at `now` is on or after the weekly day of its ISO week (local time).

    The weekly edition of week W goes out with the first send on or after that day; later
    sends in the same week only reach who has not had it (the ledger is per edition).
    """
    return now.astimezone(timezone).weekday() >= WEEKDAYS.index(weekday.lower())


class VariantRenders:
    """Each variant of one edition rendered once, on first need, and kept.

    Args:
        base: the whole edition as rendered (for subscribers of every topic).
        edition: the edition, when it was built in this run; None on a re-run, when only
            stored renders exist.
        render: renders an edition (the pipeline's `render`).
        saved: a stored render of this edition's variant, by variant key, or None.
        save: stores a variant's render.
    """

    def __init__(
        self,
        base: Rendered,
        edition: Edition | None,
        render: Callable[[Edition], Rendered],
        saved: Callable[[str], Rendered | None],
        save: Callable[[str, Rendered], None],
    ) -> None:
        self._base = base
        self._edition = edition
        self._render = render
        self._saved = saved
        self._save = save
        self._cache: dict[tuple[str, ...], Rendered | None] = {(): base}

    def for_subscriber(self, subscriber: Subscriber) -> Rendered | None:
        """The render this subscriber gets, or None when none of their topics has news."""
        topics = variant_of(subscriber).topics
        if topics not in self._cache:
            self._cache[topics] = self._make(topics)
        return self._cache[topics]

    def _make(self, topics: tuple[str, ...]) -> Rendered | None:
        key = ";".join(topics)
        stored = self._saved(key)
        if stored is not None:
            return stored
        if self._edition is None:
            # A re-run whose first run never needed this variant: the whole edition is the
            # honest fallback (the stories are no longer all unsent, so it cannot be rebuilt).
            log.info("edition %s: no stored render for topics %s; sending the whole edition",
                     self._base.edition_id, key)
            return self._base
        filtered = filter_edition(self._edition, topics)
        if not filtered.clusters:
            return None
        rendered = self._render(filtered)
        self._save(key, rendered)
        return rendered
