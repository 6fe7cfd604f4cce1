"""Subscribers: read the operator's lists into `Subscriber` values, and sign their tokens.

In: `subscribers/*.csv` files (a header row; `email` required, `name`, `topics`, `frequency`
optional) and the suppression set. Out: a stream of valid, de-duplicated subscribers; each bad
row costs one log line naming the file, the line and the reason. Files are read line by line
(bytes decoded per line), so a 1,000,000-row list needs no more memory than the set of
addresses already seen. Tokens for unsubscribe links are HMAC-SHA256 signed, versioned and
bound to the list and the address.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import hmac
import logging
import re
from collections.abc import Callable, Collection, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from digest.audience.tokens import b64, sign, unb64
from digest.errors import SubscriberError
from digest.model import Frequency, Subscriber

log = logging.getLogger(__name__)

COLUMNS = ("email", "name", "topics", "frequency")
FREQUENCIES: tuple[Frequency, ...] = ("daily", "weekly")
TOKEN_VERSION = "v1"

# The common shape of an address (ASCII dot-atom local part, LDH labels, an alphabetic TLD
# that is not special-use): email-validator accepts every one of them and only lower-cases
# the domain, so we can skip its 30 µs for these. Everything else goes through email-validator.
# tests/test_subscribers.py checks that both paths agree.
_LOCAL = r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_COMMON = re.compile(rf"({_LOCAL})@((?:{_LABEL}\.)+([A-Za-z]{{2,24}}))")
_SPECIAL = frozenset(SPECIAL_USE_DOMAIN_NAMES)
_TOKEN = re.compile(r"(v[0-9]+)\.([A-Za-z0-9_-]{4,2000})\.([A-Za-z0-9_-]{43})")


@dataclass
class LoadStats:
    """What a load saw, for summaries (`digest subscribers import`, the bench)."""

    rows: int = 0
    subscribers: int = 0
    skipped: int = 0
    duplicates: int = 0
    suppressed: int = 0


def normalize_address(address: str) -> str:
    """The address as compared and stored: syntax checked (no DNS), domain lower-cased.

    Raises:
        SubscriberError: it is not a valid address; the message says why.
    """
    address = address.strip()
    match = _COMMON.fullmatch(address)
    if (match and len(match[1]) <= 64 and len(address) <= 254 and "--" not in match[2]
            and match[3].lower() not in _SPECIAL):
        return f"{match[1]}@{match[2].lower()}"
    try:
        return str(validate_email(address, check_deliverability=False).normalized)
    except EmailNotValidError as e:
        raise SubscriberError(f"{address!r} is not a valid address: {e}") from e


def address_key(address: str) -> str:
    """Who an address reaches, for comparing: addresses that differ only in case are one
    reader (mail systems treat local parts case-insensitively in practice), so importing,
    suppressing and the ledger compare this key, while mail goes to the address as written.
    An address that does not normalize is compared as its trimmed, case-folded text."""
    try:
        return normalize_address(address).casefold()
    except SubscriberError:
        return address.strip().casefold()


def load_subscribers(
    lists: Sequence[Path],
    suppressed: Container[str] = frozenset(),
    topics: Collection[str] | None = None,
    stats: LoadStats | None = None,
    quiet: bool = False,
) -> Iterator[Subscriber]:
    """Stream the valid subscribers of every list, each address once.

    Args:
        lists: CSV files, read in order; the first row for an address wins.
        suppressed: addresses never to yield (unsubscribed, bounced, by hand), as written
            or by their `address_key` (a store's `Blocked` answers in any case).
        topics: the section names a `topics` cell may name (any case); None accepts any.
        stats: counts what was read, when given.
        quiet: bad rows at debug level only (a run reads its lists several times, and
            warns on one read).
    Yields:
        Subscribers, in file order.
    Raises:
        SubscriberError: a list file is missing or unreadable as a whole (not UTF-8 at all,
            no `email` column).
    """
    stats = stats if stats is not None else LoadStats()
    canonical = {t.lower(): t for t in topics} if topics is not None else None
    seen: set[str] = set()
    for path in lists:
        for line, subscriber in read_list(path, canonical, stats, quiet=quiet):
            key = address_key(subscriber.email)
            if key in seen:
                stats.duplicates += 1
                log.info("%s:%d: %s is already listed; the first row is kept", path, line,
                         subscriber.email)
                continue
            seen.add(key)
            if key in suppressed or subscriber.email in suppressed:
                stats.suppressed += 1
                continue
            stats.subscribers += 1
            yield subscriber


def find_subscriber(
    lists: Sequence[Path], list_name: str, email: str, topics: dict[str, str] | None
) -> Subscriber | None:
    """The row for `email` in the list named `list_name` (a file's stem), or None.

    A linear scan that stops at the row; bad rows are not reported again (the loader does).
    """
    for path in lists:
        if path.stem != list_name:
            continue
        try:
            for _, subscriber in read_list(path, topics, quiet=True):
                if subscriber.email == email:
                    return subscriber
        except SubscriberError:
            return None
    return None


def read_list(
    path: Path, topics: dict[str, str] | None, stats: LoadStats | None = None,
    quiet: bool = False,
) -> Iterator[tuple[int, Subscriber]]:
    """The valid rows of one list file with their line numbers; bad rows are logged.

    Args:
        path: the CSV file.
        topics: lower-cased topic → its spelling in the config; None accepts any topic.
        stats: counts rows and skips, when given.
        quiet: log bad rows at debug level only (for look-ups, not loads).
    Raises:
        SubscriberError: the file cannot be opened, is not text, or its header is unusable.
    """
    stats = stats if stats is not None else LoadStats()
    warn = log.debug if quiet else log.warning
    try:
        handle = path.open("rb")
    except OSError as e:
        raise SubscriberError(f"{path}: cannot open the subscriber list: {e.strerror}") from e
    with handle:
        lines = _Lines(handle, path, warn)
        reader = csv.reader(lines)
        try:
            header = [h.strip().lower() for h in next(reader, [])]
        except csv.Error as e:
            raise SubscriberError(f"{path}:1: the header row is not CSV ({e})") from e
        if "email" not in header:
            raise SubscriberError(f"{path}:1: no 'email' column in the header row; the header "
                                  f"must name some of {', '.join(COLUMNS)}")
        unknown = [h for h in header if h not in COLUMNS]
        if unknown:
            warn("%s:1: ignoring unknown columns %s", path, ", ".join(unknown))
        at = {name: header.index(name) if name in header else -1 for name in COLUMNS}
        email_at, name_at, topics_at, frequency_at = (at[c] for c in COLUMNS)
        width = len(header)
        list_name = path.stem
        # Few distinct topics and frequency cells: each is checked once per file.
        topic_cells: dict[str, tuple[str, ...]] = {}
        frequency_cells: dict[str, Frequency] = {}
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as e:
                stats.rows += 1
                stats.skipped += 1
                warn("%s:%d: row skipped: not CSV (%s)", path, lines.number, e)
                continue
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            stats.rows += 1
            try:
                if len(row) != width:
                    raise SubscriberError(f"{len(row)} columns where the header has {width}; "
                                          "quote cells that contain a comma")
                # The same checks as parse_subscriber, unrolled: this loop runs a million
                # times for a large list.
                email = normalize_address(row[email_at])
                cell = row[topics_at] if topics_at >= 0 else ""
                chosen = topic_cells.get(cell)
                if chosen is None:
                    chosen = parse_topics(cell, topics)
                    if len(topic_cells) < 10_000:
                        topic_cells[cell] = chosen
                cell = row[frequency_at] if frequency_at >= 0 else ""
                frequency = frequency_cells.get(cell)
                if frequency is None:
                    frequency = parse_frequency(cell)
                    if len(frequency_cells) < 100:
                        frequency_cells[cell] = frequency
                name = row[name_at] if name_at >= 0 else ""
                yield lines.number, _new_subscriber(
                    email, " ".join(name.split()) if name else "", chosen, frequency, list_name)
            except SubscriberError as e:
                stats.skipped += 1
                warn("%s:%d: row skipped: %s", path, lines.number, e)
        stats.rows += lines.undecodable
        stats.skipped += lines.undecodable
        if lines.undecodable:
            warn("%s: %d rows were skipped because they are not UTF-8; save the list as "
                        "UTF-8 (in a spreadsheet: CSV UTF-8)", path, lines.undecodable)


class _Lines:
    """The file's lines decoded one at a time, so one Latin-1 row costs that row only.

    `number` is the physical line last read (1-based), for messages.
    """

    def __init__(self, handle: BinaryIO, path: Path, warn: Callable[..., None]) -> None:
        self._handle = handle
        self._warn = warn
        self._path = path
        self.number = 0
        self.undecodable = 0

    def __iter__(self) -> Iterator[str]:
        for raw in self._handle:
            self.number += 1
            if self.number == 1:
                raw = self._first(raw)
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as e:
                if self.number == 1:
                    raise SubscriberError(
                        f"{self._path}:1: the header row is not UTF-8 (byte 0x{raw[e.start]:02x} "
                        f"at column {e.start + 1}); save the list as UTF-8 CSV") from e
                self.undecodable += 1
                self._warn("%s:%d: row skipped: not UTF-8 (byte 0x%02x at column %d); save "
                            "the list as UTF-8", self._path, self.number, raw[e.start],
                            e.start + 1)

    def _first(self, raw: bytes) -> bytes:
        if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\0" in raw:
            raise SubscriberError(f"{self._path}: this is not a UTF-8 text file (UTF-16, or "
                                  "binary); save the list as UTF-8 CSV")
        return raw.removeprefix(codecs.BOM_UTF8)


def parse_subscriber(
    cells: dict[str, str], topics: dict[str, str] | None, list_name: str
) -> Subscriber:
    """One subscriber from a row's cells, checked like every list row.

    Args:
        cells: column name → cell text (`email` required; `name`, `topics`, `frequency`).
        topics: lower-cased topic → its spelling in the config; None accepts any topic.
        list_name: the list the subscriber belongs to (tokens are bound to it).
    Raises:
        SubscriberError: a bad address, an unknown topic or frequency.
    """
    email = normalize_address(cells.get("email", ""))
    chosen = parse_topics(cells.get("topics", ""), topics)
    return Subscriber(
        email=email, name=" ".join(cells.get("name", "").split()), topics=chosen,
        frequency=parse_frequency(cells.get("frequency", "")), list_name=list_name,
    )


def parse_frequency(text: str) -> Frequency:
    """`daily` (also for an empty cell) or `weekly`, in any case.

    Raises:
        SubscriberError: anything else.
    """
    frequency = text.strip().lower() or "daily"
    if frequency not in FREQUENCIES:
        raise SubscriberError(f"frequency {frequency!r} is not daily or weekly")
    return "weekly" if frequency == "weekly" else "daily"


def _make_subscriber(
    email: str, name: str, topics: tuple[str, ...], frequency: Frequency, list_name: str
) -> Subscriber:
    return Subscriber(email, name, topics, frequency, list_name)


def _fill_subscriber(
    email: str, name: str, topics: tuple[str, ...], frequency: Frequency, list_name: str
) -> Subscriber:
    # A frozen dataclass's __init__ sets each field through object.__setattr__, which is most
    # of a large list's load time; filling __dict__ gives the same (equal, hashable) value.
    subscriber = object.__new__(Subscriber)
    subscriber.__dict__.update(email=email, name=name, topics=topics, frequency=frequency,
                               list_name=list_name)
    return subscriber


# The shortcut only while Subscriber is a plain frozen dataclass with exactly these fields.
_new_subscriber = (
    _fill_subscriber
    if not hasattr(Subscriber, "__slots__") and not hasattr(Subscriber, "__post_init__")
    and tuple(f.name for f in dataclasses.fields(Subscriber)) == (
        "email", "name", "topics", "frequency", "list_name")
    else _make_subscriber
)


def parse_topics(text: str | Iterable[str], topics: dict[str, str] | None) -> tuple[str, ...]:
    """Topics from a `;`-separated cell (or a list), in the config's spelling, sorted.

    Raises:
        SubscriberError: a topic is not a section of the config.
    """
    names = text.split(";") if isinstance(text, str) else text
    chosen: list[str] = []
    for raw in names:
        topic = raw.strip()
        if not topic:
            continue
        if topics is not None:
            if topic.lower() not in topics:
                known = ", ".join(sorted(topics.values())) or "none"
                raise SubscriberError(f"unknown topic {topic!r} (the sections are: {known})")
            topic = topics[topic.lower()]
        if topic not in chosen:
            chosen.append(topic)
    return tuple(sorted(chosen))


def make_token(key: bytes, list_name: str, email: str) -> str:
    """A token that proves `email` on `list_name` came from us.

    `v1.<base64url(list NUL address)>.<base64url(HMAC-SHA256(key, "v1" NUL payload))>`.
    """
    payload = f"{list_name}\0{email}".encode()
    return f"{TOKEN_VERSION}.{b64(payload)}.{b64(_sign(key, payload))}"


def read_token(key: bytes, token: str) -> tuple[str, str]:
    """The (list name, address) a token was made for.

    Only the exact canonical form is accepted: a token that was cut, padded, re-encoded or
    re-targeted to another list or address fails the signature check (in constant time).

    Raises:
        SubscriberError: the token is malformed, truncated, forged or of an unknown version.
    """
    match = _TOKEN.fullmatch(token.strip())
    if match is None:
        raise SubscriberError("this link is incomplete or damaged")
    version, payload_text, signature_text = match.groups()
    if version != TOKEN_VERSION:
        raise SubscriberError("this link was made by an unknown version")
    try:
        payload = unb64(payload_text)
        signature = unb64(signature_text)
    except ValueError:
        raise SubscriberError("this link is incomplete or damaged") from None
    # Re-encoding must give back the same text: no second spelling of one token.
    canonical = b64(payload) == payload_text and b64(signature) == signature_text
    if not hmac.compare_digest(signature, _sign(key, payload)) or not canonical:
        raise SubscriberError("this link was not made by us or was changed")
    list_name, _, email = payload.decode("utf-8", errors="replace").partition("\0")
    return list_name, email


def _sign(key: bytes, payload: bytes) -> bytes:
    return sign(key, TOKEN_VERSION, payload)
