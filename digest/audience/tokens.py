"""Signup tokens: the confirmation link's token and the hosted form's time stamp.

In: the HMAC key from the environment, what the token names, a time. Out: a URL-safe string,
or, read back, the values it was made with. Each kind signs its own version tag with its
payload (`c1` for confirmations, `f1` for form stamps, `v1` for the unsubscribe tokens in
`subscribers.py`), so a token of one kind never passes for another. Only the exact canonical
spelling verifies, in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from digest.errors import SubscriberError

CONFIRM = "c1"
FORM = "f1"
_SHAPE = re.compile(r"([a-z][0-9]+)\.([A-Za-z0-9_-]{2,2000})\.([A-Za-z0-9_-]{43})")


@dataclass(frozen=True)
class ConfirmToken:
    """What a confirmation link names: the request, its address, and when it stops working."""

    signup_id: str
    email: str
    expires: datetime


def make_confirm_token(key: bytes, signup_id: str, email: str, expires: datetime) -> str:
    """The token of a confirmation link for one signup request."""
    return _seal(key, CONFIRM, [signup_id, email, str(int(expires.timestamp()))])


def read_confirm_token(key: bytes, token: str) -> ConfirmToken:
    """The request a confirmation token names (whether or not it has expired: the caller
    compares `expires` with its clock, and offers a new link).

    Raises:
        SubscriberError: the token is damaged, forged, or not a confirmation token.
    """
    fields = _open(key, CONFIRM, token)
    if len(fields) != 3 or not fields[2].isdigit():
        raise SubscriberError("this link is incomplete or damaged")
    return ConfirmToken(fields[0], fields[1], datetime.fromtimestamp(int(fields[2]), UTC))


def make_form_stamp(key: bytes, now: datetime) -> str:
    """The hosted form's hidden stamp: when the page was served, signed."""
    return _seal(key, FORM, [f"{now.timestamp():.3f}"])


def read_form_stamp(key: bytes, stamp: str) -> datetime:
    """When the form carrying `stamp` was served.

    Raises:
        SubscriberError: the stamp was not made by us or was changed.
    """
    fields = _open(key, FORM, stamp)
    try:
        return datetime.fromtimestamp(float(fields[0]), UTC)
    except (ValueError, OverflowError, OSError, IndexError):
        raise SubscriberError("the form's stamp is damaged") from None


def _seal(key: bytes, version: str, fields: list[str]) -> str:
    if any("\0" in f for f in fields):
        raise ValueError("a token field cannot hold NUL")
    payload = "\0".join(fields).encode()
    return f"{version}.{b64(payload)}.{b64(sign(key, version, payload))}"


def _open(key: bytes, version: str, token: str) -> list[str]:
    match = _SHAPE.fullmatch(token.strip())
    if match is None or match[1] != version:
        raise SubscriberError("this link is incomplete or damaged")
    try:
        payload = unb64(match[2])
        signature = unb64(match[3])
    except ValueError:
        raise SubscriberError("this link is incomplete or damaged") from None
    canonical = b64(payload) == match[2] and b64(signature) == match[3]
    if not hmac.compare_digest(signature, sign(key, version, payload)) or not canonical:
        raise SubscriberError("this link was not made by us or was changed")
    try:
        return payload.decode("utf-8").split("\0")
    except UnicodeDecodeError:
        raise SubscriberError("this link is incomplete or damaged") from None


def sign(key: bytes, version: str, payload: bytes) -> bytes:
    """The HMAC-SHA256 of a token kind's version tag and its payload."""
    return hmac.new(key, version.encode() + b"\0" + payload, hashlib.sha256).digest()


def b64(data: bytes) -> str:
    """URL-safe base64 without padding: the one spelling a token may have."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    """`b64` undone.

    Raises:
        ValueError: not base64.
    """
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as e:
        raise ValueError(str(e)) from e
