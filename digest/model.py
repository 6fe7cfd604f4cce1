"""The vocabulary shared by every stage: plain frozen dataclasses, no behaviour beyond views.

Stages pass these values to each other and nothing else: no feedparser dicts, no SQLite rows,
no email objects cross a stage's edge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

FetchStatus = Literal["ok", "not_modified", "failed", "skipped"]
DeliveryStatus = Literal["pending", "sent", "deferred", "failed", "unknown", "skipped"]
Frequency = Literal["daily", "weekly"]


@dataclass(frozen=True)
class Feed:
    """One feed the operator lists in config.toml (`[[feeds]]`)."""

    url: str  # an http(s) URL, or an absolute local path
    name: str
    section: str
    weight: float = 1.0
    featured: bool = False
    publisher: str = ""  # feeds of one publisher are one source; "" = the feed is its own


@dataclass(frozen=True)
class Validators:
    """What a server told us last time, sent back so an unchanged feed costs a 304."""

    etag: str = ""
    last_modified: str = ""


@dataclass(frozen=True)
class FetchResult:
    """What fetching one feed produced: the bytes, or why there are none."""

    feed: Feed
    status: FetchStatus
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    http_status: int | None = None
    final_url: str = ""  # where the body came from after redirects (base for relative links)
    error: str | None = None
    permanent_url: str = ""  # where 301/308 redirects (only those) moved the feed, if anywhere
    retry_after_seconds: float | None = None  # a 429/503's Retry-After, capped at a day


@dataclass(frozen=True)
class Image:
    """A story's picture, only ever an absolute http(s) URL."""

    url: str
    width: int | None = None
    height: int | None = None
    alt: str = ""


@dataclass(frozen=True)
class Story:
    """One clean item from a feed: canonical, sanitized, safe to render."""

    feed_url: str
    source: str  # the feed's display name
    section: str
    id: str  # stable within its feed
    url: str  # absolute http(s)
    title: str  # plain text, one line
    summary_html: str  # allow-listed HTML
    summary_text: str  # plain text
    published: datetime  # UTC
    author: str = ""
    categories: tuple[str, ...] = ()
    image: Image | None = None
    weight: float = 1.0
    featured: bool = False
    dated: bool = True  # False: the feed gave no usable date, `published` is when we saw it
    position: int = 0  # its place in its feed, 0 = first: feeds list what matters most first
    publisher: str = ""  # who publishes its feed ([[feeds]] publisher); "" = the feed itself


@dataclass(frozen=True)
class Cluster:
    """One story as covered by one or more sources; the lead story comes first."""

    stories: tuple[Story, ...]
    score: float
    components: Mapping[str, float] = field(default_factory=dict)
    section: str = ""  # its own section, also when it is shown under "Top stories"
    why: tuple[str, ...] = ()  # what ranking noticed (soft news, a boost, a pin, why it was cut)

    @property
    def lead(self) -> Story:
        return self.stories[0]

    @property
    def also(self) -> tuple[Story, ...]:
        return self.stories[1:]


@dataclass(frozen=True)
class Section:
    """A heading in the email and the clusters under it, best first."""

    name: str
    clusters: tuple[Cluster, ...]


@dataclass(frozen=True)
class Edition:
    """One issue of the newsletter: what every subscriber of a variant reads."""

    id: str  # e.g. "daily-2023-11-22"
    newsletter: str
    created: datetime  # UTC: the moment the edition was built as of
    sections: tuple[Section, ...]
    cut: tuple[Cluster, ...] = ()  # the best stories left out, each with why (for --explain)

    @property
    def clusters(self) -> tuple[Cluster, ...]:
        return tuple(c for s in self.sections for c in s.clusters)

    @property
    def stories(self) -> tuple[Story, ...]:
        return tuple(story for c in self.clusters for story in c.stories)


@dataclass(frozen=True)
class Rendered:
    """An edition rendered once for a variant, with per-recipient placeholders still in it.

    `html` and `text` contain `placeholders[name]` markers (unguessable per render) which
    `message.py` replaces with each subscriber's values.
    """

    edition_id: str
    subject: str
    html: str
    text: str
    placeholders: Mapping[str, str]


@dataclass(frozen=True)
class Subscriber:
    """One address on a list, with what it asked for."""

    email: str
    name: str = ""
    topics: tuple[str, ...] = ()  # section names; empty means all
    frequency: Frequency = "daily"
    list_name: str = "subscribers"


@dataclass(frozen=True)
class Delivery:
    """The ledger's record of one edition to one subscriber."""

    edition_id: str
    email: str
    status: DeliveryStatus
    reply: str = ""
    message_id: str = ""
    attempts: int = 0


@dataclass(frozen=True)
class DatabaseUrl:
    """A PostgreSQL state database: its URL (without a password) and the environment
    variable that holds the password, read when a connection is opened."""

    url: str
    password_env: str

    def __str__(self) -> str:
        return self.url


def is_database_url(text: str) -> bool:
    """Whether `[state] database` names a PostgreSQL server rather than a SQLite file."""
    return text.startswith(("postgresql://", "postgres://"))
