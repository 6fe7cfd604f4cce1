"""Subscribers: read the operator's lists into `Subscriber` values, and sign their tokens.

In: `subscribers/*.csv` files (a header row; `email` required, `name`, `topics`, `frequency`
optional) and the suppression set. Out: a stream of valid, de-duplicated subscribers; each bad
row costs one log line naming the file, the line and the reason. Tokens for unsubscribe links
are HMAC-SHA256 signed, versioned and bound to the list and the address.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import logging
from collections.abc import Container, Iterator, Sequence
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from digest.errors import SubscriberError
from digest.model import Frequency, Subscriber

log = logging.getLogger(__name__)

COLUMNS = ("email", "name", "topics", "frequency")
FREQUENCIES: tuple[Frequency, ...] = ("daily", "weekly")
TOKEN_VERSION = "v1"


def normalize_address(address: str) -> str:
    """The address as compared and stored: syntax checked, domain lower-cased.

    Raises:
        SubscriberError: it is not a valid address.
    """
    try:
        return str(validate_email(address.strip(), check_deliverability=False).normalized)
    except EmailNotValidError as e:
        raise SubscriberError(f"{address!r} is not a valid address: {e}") from e


def load_subscribers(
    lists: Sequence[Path],
    suppressed: Container[str] = frozenset(),
    topics: Container[str] | None = None,
) -> Iterator[Subscriber]:
    """Stream the valid subscribers of every list, each address once.

    Args:
        lists: CSV files, read in order; the first row for an address wins.
        suppressed: addresses never to yield (unsubscribed, bounced).
        topics: the section names a `topics` cell may name; None accepts any.
    Yields:
        Subscribers, in file order.
    Raises:
        SubscriberError: a list file is missing, unreadable or has no `email` column.
    """
    seen: set[str] = set()
    for path in lists:
        for subscriber in _read_list(path, topics):
            key = subscriber.email.lower()
            if key in seen or subscriber.email in suppressed:
                continue
            seen.add(key)
            yield subscriber


def _read_list(path: Path, topics: Container[str] | None) -> Iterator[Subscriber]:
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as e:
        raise SubscriberError(f"{path}: cannot open the subscriber list: {e.strerror}") from e
    with handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip().lower() for h in next(reader, [])]
        except (UnicodeDecodeError, csv.Error) as e:
            raise SubscriberError(f"{path}: the header row is unreadable ({e}); "
                                  "save the list as UTF-8 CSV") from e
        if "email" not in header:
            raise SubscriberError(f"{path}: no 'email' column in the header row; "
                                  f"the header must name some of {', '.join(COLUMNS)}")
        unknown = [h for h in header if h not in COLUMNS]
        if unknown:
            log.warning("%s: ignoring unknown columns %s", path, ", ".join(unknown))
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except (UnicodeDecodeError, csv.Error) as e:
                log.warning("%s:%d: row skipped: not UTF-8 CSV (%s)", path, reader.line_num, e)
                continue
            if not any(cell.strip() for cell in row):
                continue
            try:
                yield _subscriber(dict(zip(header, row, strict=False)), len(row), len(header),
                                  path, topics)
            except SubscriberError as e:
                log.warning("%s:%d: row skipped: %s", path, reader.line_num, e)


def _subscriber(
    row: dict[str, str], width: int, expected: int, path: Path, topics: Container[str] | None
) -> Subscriber:
    if width != expected:
        raise SubscriberError(f"{width} columns where the header has {expected}")
    email = normalize_address(row.get("email", ""))
    chosen = tuple(t.strip() for t in row.get("topics", "").split(";") if t.strip())
    if topics is not None:
        bad = [t for t in chosen if t not in topics]
        if bad:
            raise SubscriberError(f"unknown topic {bad[0]!r}")
    frequency = row.get("frequency", "").strip().lower() or "daily"
    if frequency not in FREQUENCIES:
        raise SubscriberError(f"frequency {frequency!r} is not daily or weekly")
    return Subscriber(
        email=email, name=" ".join(row.get("name", "").split()), topics=chosen,
        frequency="weekly" if frequency == "weekly" else "daily", list_name=path.stem,
    )


def make_token(key: bytes, list_name: str, email: str) -> str:
    """A token that proves `email` on `list_name` came from us."""
    payload = f"{list_name}\0{email}".encode()
    return f"{TOKEN_VERSION}.{_b64(payload)}.{_b64(_sign(key, payload))}"


def read_token(key: bytes, token: str) -> tuple[str, str]:
    """The (list name, address) a token was made for.

    Raises:
        SubscriberError: the token is malformed, truncated, forged or of an unknown version.
    """
    try:
        version, payload_text, signature_text = token.split(".")
        payload = _unb64(payload_text)
        signature = _unb64(signature_text)
    except ValueError:
        raise SubscriberError("this link is incomplete or damaged") from None
    if version != TOKEN_VERSION:
        raise SubscriberError("this link was made by an unknown version")
    if not hmac.compare_digest(signature, _sign(key, payload)):
        raise SubscriberError("this link was not made by us or was changed")
    list_name, _, email = payload.decode("utf-8", errors="replace").partition("\0")
    return list_name, email


def _sign(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, TOKEN_VERSION.encode() + b"\0" + payload, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as e:
        raise ValueError(str(e)) from e
