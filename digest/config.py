"""Configure: read config.toml once into validated frozen dataclasses.

In: the path of a TOML file. Out: a `Config`, or a `ConfigError` whose one line names the
file, the dotted key and its line, and says what to do. Every default lives here, once, with a
comment for the operator. Paths in the file are relative to the file's folder.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from digest import configrules as rules
from digest.errors import ConfigError
from digest.model import DatabaseUrl, Feed, is_database_url
from digest.tomltables import fail, read_table

Security = Literal["none", "starttls", "ssl"]


@dataclass(frozen=True)
class NewsletterConfig:
    name: str  # the newsletter's name, in the masthead and the subject
    sender: str = field(metadata={"key": "from"})  # "Name <address>" in the From header
    base_url: str = "http://127.0.0.1:8080"  # where `digest serve` answers: unsubscribe, archive
    secret_env: str = "DIGEST_SECRET"  # env variable holding the HMAC key for tokens
    templates: str = ""  # optional folder of your own templates: a file there wins over the bundled
    reply_to: str = ""  # an optional Reply-To address
    language: str = "en"  # the edition's language, BCP 47 ("en", "pt-BR"), for screen readers
    logo_url: str = ""  # https image atop the email and the reader pages; empty: the name in type
    accent_color: str = "#b3261e"  # #rrggbb of the top rule and section names; 4.5:1 on white
    footer_text: str = ""  # one more line in the email's footer, e.g. who publishes it and why
    postal_address: str = ""  # shown in the footer; CAN-SPAM requires it for commercial mail


@dataclass(frozen=True)
class ScheduleConfig:
    send: str = "0 7 * * *"  # cron, in `timezone`
    fetch: str = "*/30 * * * *"  # feeds keep only their last items: fetch between sends
    timezone: str = "UTC"  # IANA name; edition dates are days in this zone
    send_weekly: str = ""  # cron for the weekly edition (e.g. "0 7 * * 1"); empty: none
    misfire_grace_seconds: int = 3600  # a job late by up to this runs once; later: skipped
    bounces: str = ""  # cron for `digest bounces scan` of [bounces] maildir; empty: none
    retry: str = "*/15 * * * *"  # cron for retrying deferred deliveries; empty: none


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "127.0.0.1"  # the SMTP server
    port: int = 1025  # its port
    security: Security = "none"  # TLS from the first byte (ssl), upgraded (starttls), or none
    username: str = ""  # log in when set, with the password from password_env
    password_env: str = "DIGEST_SMTP_PASSWORD"  # the password comes from this env variable
    connections: int = 4  # connections to the server at once
    timeout_seconds: float = 30.0  # bound on every wait for the server
    # waits between tries of a 4xx within one run (then the address is deferred to the next
    # run); also the waits between reconnects
    retry_backoff_seconds: list[float] = field(default_factory=lambda: [60.0, 300.0, 900.0])
    max_per_connection: int = 0  # reconnect after this many messages; 0 = no limit
    rate_per_second: float = 0.0  # messages per second at most, all connections; 0 = no limit
    tls_ca_file: str = ""  # extra CA certificates (PEM) to trust, for a private server's TLS
    lease_seconds: float = 60.0  # PostgreSQL: a dead worker's claimed messages go to others then
    claim_batch: int = 50  # PostgreSQL: deliveries a worker claims at a time
    give_up_after_hours: float = 48.0  # a deferred delivery is retried until then, then failed
    allow_plaintext_auth: bool = False  # log in without TLS (security = "none"): this machine only


@dataclass(frozen=True)
class DkimConfig:
    key_file: str = ""  # PEM RSA private key; signing is on when the three keys are set
    selector: str = ""  # the DNS record is <selector>._domainkey.<domain>
    domain: str = ""  # the d= domain, normally the From address's domain


@dataclass(frozen=True)
class BouncesConfig:
    address: str = ""  # VERP: MAIL FROM is bounces+TOKEN@... per message; empty: the From address
    soft_limit: int = 3  # soft bounces (4.x.x, mailbox full) in a row that suppress an address
    window_days: float = 14.0  # ... counted within this many days
    max_message_bytes: int = 10 * 1024 * 1024  # bigger is refused (552) or left unread by scan
    maildir: str = ""  # the Maildir (or mbox) `[schedule] bounces` scans; empty: none


@dataclass(frozen=True)
class StateConfig:
    database: str = "state/digest.sqlite3"  # a path (SQLite) or postgresql://user@host/db
    password_env: str = "DIGEST_DB_PASSWORD"  # a PostgreSQL URL's password comes from this


@dataclass(frozen=True)
class FetchConfig:
    concurrency: int = 16  # feeds fetched at once
    per_host: int = 2  # feeds fetched at once from one host
    timeout_seconds: float = 30.0  # total deadline for one feed, body included
    connect_timeout_seconds: float = 10.0  # to open the connection
    max_bytes: int = 10 * 1024 * 1024  # largest feed accepted, after decompression
    backoff_seconds: float = 900.0  # wait after the 2nd failure in a row; doubles, max a day
    parse_workers: int = 0  # processes parsing feeds; 0: one per CPU (at most 4)
    parse_seconds: int = 20  # CPU seconds one feed may take to parse; past that it fails
    allow_private_redirects: bool = False  # follow feeds' redirects to loopback/private hosts


@dataclass(frozen=True)
class RankingConfig:
    max_stories: int = 20  # stories in an edition at most
    max_per_source: int = 5  # stories led by one feed at most
    max_per_section: int = 6  # stories in one section at most
    min_stories: int = 3  # fewer than this and no edition is sent
    lookback_hours: float = 36.0  # only stories published this recently
    half_life_hours: float = 24.0  # a story's recency score halves every this many hours
    similarity_threshold: float = 0.22  # 0..1: headlines this alike are one story; 1 = links only
    semantic: bool = False  # also join one story told in two languages (digest[semantic] extra)
    semantic_threshold: float = 0.5  # 0..1: how alike in meaning such reports must be
    source_bonus: float = 3.0  # each further source covering a story adds this to its factor
    featured_boost: float = 1.5  # score factor of a featured story
    featured_categories: list[str] = field(default_factory=list)  # item categories that feature
    top_stories: int = 5  # the best this many stories open the edition; 0 = no such section
    top_section: str = "Top stories"  # that section's heading
    prominence: float = 0.5  # a story first in its feed scores 1 + this; halves every 3 places
    velocity: float = 0.5  # factor 1 + this * log2(1 + sources per hour over the last 6 hours)
    soft_news: float = 0.3  # score factor of soft news ("Watch:", "in pictures", quiz, podcast)
    boost_words: list[str] = field(default_factory=list)  # words or phrases that boost a story
    mute_words: list[str] = field(default_factory=list)  # words or phrases that leave it out
    boost_factor: float = 2.0  # score factor of a story with a boost word in its headline
    summary_chars: int = 280  # summaries end at the last whole sentence within this length


@dataclass(frozen=True)
class SubscribersConfig:
    # CSV files with a header: email[,name,topics,frequency]
    lists: list[str] = field(default_factory=lambda: ["subscribers/subscribers.csv"])
    # weekly subscribers get the week's best with the first send on or after this day
    weekly_day: str = "monday"


DEFAULT_CONSENT = "Email me this newsletter. I can unsubscribe at any time, in one click."


@dataclass(frozen=True)
class SignupConfig:
    confirm_hours: float = 48.0  # a confirmation link works this long after it was sent
    resend_minutes: float = 10.0  # at most one confirmation email per address in this window
    per_ip_per_hour: int = 20  # signups accepted from one client address per hour; more: no mail
    min_form_seconds: float = 2.0  # a hosted form posted sooner than this is a bot's: no mail
    consent: str = DEFAULT_CONSENT  # the line above the form's button; kept with each consent
    about: str = ""  # what the newsletter sends, atop /subscribe; empty: said from the sections


@dataclass(frozen=True)
class WebConfig:
    host: str = "127.0.0.1"  # where `digest serve` listens
    port: int = 8080  # its port


@dataclass(frozen=True)
class FeedConfig:
    url: str  # an http(s) URL, or a local file
    name: str = ""  # the source's name in the email; empty: the URL's host name
    section: str = "News"  # the section its stories go in
    weight: float = 1.0  # how much the source counts in ranking
    featured: bool = False  # the publisher's own featured feed: its stories get featured_boost
    publisher: str = ""  # feeds with the same publisher count as one source of a story


@dataclass(frozen=True)
class SectionRule:
    """`[[sections]]`: a section's place in the email, and the item categories that file a
    story under it (matched without regard to case), and the words of its headline or summary
    that do (whole words or phrases)."""

    name: str  # the section's heading; [[sections]] come first, in their order
    categories: list[str] = field(default_factory=list)  # item categories filed here
    keywords: list[str] = field(default_factory=list)  # words or phrases in a story that file it


@dataclass(frozen=True)
class Config:
    """The whole validated configuration; `path` is the file it came from."""

    path: Path
    newsletter: NewsletterConfig
    feeds: tuple[Feed, ...]
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    state: StateConfig = field(default_factory=StateConfig)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    ranking: RankingConfig = field(default_factory=RankingConfig)
    subscribers: SubscribersConfig = field(default_factory=SubscribersConfig)
    web: WebConfig = field(default_factory=WebConfig)
    signup: SignupConfig = field(default_factory=SignupConfig)
    sections: tuple[SectionRule, ...] = ()
    dkim: DkimConfig = field(default_factory=DkimConfig)
    bounces: BouncesConfig = field(default_factory=BouncesConfig)

    @property
    def folder(self) -> Path:
        return self.path.parent

    def resolve(self, relative: str) -> Path:
        """A path from the config, made absolute against the config file's folder."""
        return (self.folder / relative).resolve()

    @property
    def database_path(self) -> Path | DatabaseUrl:
        """The state database: a SQLite file, or a PostgreSQL server's URL."""
        if is_database_url(self.state.database):
            return DatabaseUrl(self.state.database, self.state.password_env)
        return self.resolve(self.state.database)

    @property
    def state_folder(self) -> Path:
        """Where local state lives beside the database (the archive pages): the SQLite
        file's folder, or `state/` beside the config for a PostgreSQL database."""
        database = self.database_path
        return database.parent if isinstance(database, Path) else self.resolve("state")

    @property
    def templates_path(self) -> Path | None:
        """The operator's template overrides, or None for the bundled templates alone."""
        return self.resolve(self.newsletter.templates) if self.newsletter.templates else None

    @property
    def subscriber_lists(self) -> tuple[Path, ...]:
        return tuple(self.resolve(p) for p in self.subscribers.lists)

    @property
    def topics(self) -> tuple[str, ...]:
        """The section names subscribers may choose as topics, in the config's order: every
        section an edition can have, from the feeds and from `[[sections]]` (one spelling
        for names that differ only in case)."""
        first: dict[str, str] = {}
        for name in [*(f.section for f in self.feeds), *(s.name for s in self.sections)]:
            first.setdefault(name.lower(), name)
        return tuple(first.values())


_TABLES: dict[str, type] = {
    "newsletter": NewsletterConfig,
    "schedule": ScheduleConfig,
    "smtp": SmtpConfig,
    "state": StateConfig,
    "fetch": FetchConfig,
    "ranking": RankingConfig,
    "subscribers": SubscribersConfig,
    "web": WebConfig,
    "signup": SignupConfig,
    "dkim": DkimConfig,
    "bounces": BouncesConfig,
}


def load_config(path: Path) -> Config:
    """Read and validate a config file.

    Args:
        path: the config.toml to read.
    Returns:
        The validated `Config`.
    Raises:
        ConfigError: the file is missing, is not TOML, or a key is unknown, mistyped or invalid.
    """
    path = Path(path).absolute()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such file; pass --config PATH or copy the sample config.toml here"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read it ({e}); check the file's permissions") from e
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}; fix that line") from e
    return _build(path, text, data)


def _build(path: Path, text: str, data: dict[str, Any]) -> Config:
    known = set(_TABLES) | {"feeds", "sections"}
    for key in data:
        if key not in known:
            fail(path, text, key, f"unknown section; expected one of {', '.join(sorted(known))}")
    if "newsletter" not in data:
        fail(path, text, "newsletter", "missing; add a [newsletter] table with name and from")
    tables = {
        name: read_table(path, text, name, cls, data.get(name, {})) for name, cls in _TABLES.items()
    }
    raw_feeds = data.get("feeds", [])
    if not isinstance(raw_feeds, list) or not all(isinstance(f, dict) for f in raw_feeds):
        fail(path, text, "feeds", "must be an array of tables, written [[feeds]]")
    if not raw_feeds:
        fail(path, text, "feeds", "no feeds; add at least one [[feeds]] table with a url")
    feeds = tuple(
        _feed(path, text, i, read_table(path, text, f"feeds[{i}]", FeedConfig, raw))
        for i, raw in enumerate(raw_feeds)
    )
    raw_sections = data.get("sections", [])
    if not isinstance(raw_sections, list) or not all(isinstance(r, dict) for r in raw_sections):
        fail(path, text, "sections", "must be an array of tables, written [[sections]]")
    sections = tuple(
        _section(path, text, i, read_table(path, text, f"sections[{i}]", SectionRule, raw))
        for i, raw in enumerate(raw_sections)
    )
    config = Config(path=path, feeds=feeds, sections=sections, **tables)
    rules.check(config, text)
    rules.check_paths(config, text, {f"{table}.{key}" for table, keys in data.items()
                                     if isinstance(keys, dict) for key in keys})
    return config


# A section is a topic, and ";" separates topics in a list's cell and a variant's name.
_TOPIC_SEPARATOR = "must not contain ';' (it separates the topics in subscriber lists)"


def _feed(path: Path, text: str, i: int, raw: FeedConfig) -> Feed:
    url = raw.url.strip()
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("http", "https"):
        if not urlsplit(url).hostname:
            fail(path, text, f"feeds[{i}].url", f"{url!r} has no host name")
    elif scheme in ("", "file") or len(scheme) == 1:  # one letter: a Windows drive
        local = Path(url.removeprefix("file://"))
        local = local if local.is_absolute() else (path.parent / local)
        if not local.is_file():
            fail(path, text, f"feeds[{i}].url",
                  f"{url!r} is not an http(s) URL or an existing file")
        url = str(local.resolve())
    else:
        fail(path, text, f"feeds[{i}].url", f"{url!r} is not an http(s) URL or an existing file")
    if raw.weight <= 0:
        fail(path, text, f"feeds[{i}].weight", "must be greater than 0")
    name = raw.name.strip() or (urlsplit(url).hostname or Path(url).stem)
    if ";" in raw.section:
        fail(path, text, f"feeds[{i}].section", _TOPIC_SEPARATOR)
    return Feed(url=url, name=name, section=raw.section.strip() or "News",
                weight=float(raw.weight), featured=raw.featured,
                publisher=raw.publisher.strip())


def _section(path: Path, text: str, i: int, raw: SectionRule) -> SectionRule:
    name = raw.name.strip()
    if not name:
        fail(path, text, f"sections[{i}].name", "must not be empty")
    if ";" in name:
        fail(path, text, f"sections[{i}].name", _TOPIC_SEPARATOR)
    return SectionRule(name=name, categories=[c.strip() for c in raw.categories if c.strip()],
                       keywords=[k.strip() for k in raw.keywords if k.strip()])


def secret_env_names(path: Path) -> tuple[str, ...]:
    """The environment variables a config file names for secrets, read leniently.

    For the log redaction, which is set up before the config is validated: any problem with
    the file yields the defaults, and the command then reports it properly.
    """
    names = {NewsletterConfig.secret_env, SmtpConfig.password_env, StateConfig.password_env}
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return tuple(sorted(names))
    for table, key in (("newsletter", "secret_env"), ("smtp", "password_env"),
                       ("state", "password_env")):
        value = data.get(table, {}).get(key) if isinstance(data.get(table), dict) else None
        if isinstance(value, str) and value:
            names.add(value)
    return tuple(sorted(names))
