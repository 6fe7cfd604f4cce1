"""Variants: what each subscriber gets, decided from what they asked for.

In: subscribers (from the lists), their saved preferences (which win), an `Edition`. Out: each
subscriber's `Variant` (topics, frequency), the edition filtered to a variant's topics, the
plan of what each variant carries, and the lookup of each reader's stored render. Pure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo

from digest.model import Edition, Frequency, Rendered, Subscriber

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


def variant_key(topics: Iterable[str]) -> str:
    """The name a variant's render is stored under: its topics, sorted; "" for all topics."""
    return ";".join(sorted(topics))


def plan_variants(edition: Edition, keys: Iterable[str]) -> dict[str, Edition | None]:
    """What each variant (by `variant_key`) of an edition carries.

    Returns:
        For each key but "" (the whole edition): the edition filtered to its topics, or None
        when none of its topics has a story in the edition (its readers get nothing).
    """
    plan: dict[str, Edition | None] = {}
    for key in keys:
        if key and key not in plan:
            filtered = filter_edition(edition, key.split(";"))
            plan[key] = filtered if filtered.clusters else None
    return plan


class EditionVariants:
    """The renders every reader of one edition is sent: the whole edition's, and each stored
    variant's (or its mark that it is empty). Nothing here renders: a variant not prepared
    before the run sends to nobody, so any process sends exactly what was stored.

    Args:
        base: the whole edition as rendered (for readers of every topic).
        stored: by `variant_key`, each prepared variant's render, or None when it is empty.
    """

    def __init__(self, base: Rendered, stored: Mapping[str, Rendered | None]) -> None:
        self.base = base
        self._stored = stored

    def for_subscriber(self, subscriber: Subscriber) -> Rendered | None:
        """The render this subscriber gets; None when their topics have no story in the
        edition, or their variant was never prepared."""
        key = variant_key(subscriber.topics)
        return self._stored.get(key) if key else self.base

    def prepared(self, subscriber: Subscriber) -> bool:
        """Whether the subscriber's variant is known: rendered, or known to be empty."""
        key = variant_key(subscriber.topics)
        return not key or key in self._stored
