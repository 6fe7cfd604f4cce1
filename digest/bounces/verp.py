"""VERP: an envelope sender per message that names the delivery a bounce answers.

In: the bounce address (`[bounces] address`), the HMAC key (from `[newsletter] secret_env`'s
environment variable), an edition id and a subscriber's address. Out: `bounces+TOKEN@domain`,
and back from such an address the token's two hashes (edition, subscriber) once its signature
checks. A mail system answers a failed delivery to the envelope sender, so the bounce arrives
addressed to exactly one (edition, subscriber) pair.

The token is 32 lowercase base32 characters: 4 bytes of the edition's hash, 8 of the address's,
8 of HMAC-SHA256 over both. Addresses and edition ids do not fit in a 64-byte local part, so
the token carries hashes and `Resolver` finds the delivery they name in the ledger. Lowercase
base32 because mail systems may change the case of a local part; 64 bits of signature because
a guess must be checked by sending us mail, one SMTP transaction at a time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

_EDITION_BYTES, _EMAIL_BYTES, _MAC_BYTES = 4, 8, 8
TOKEN_LENGTH = 32  # base32 of the 20 bytes above, no padding
_TOKEN = re.compile(r"[a-z2-7]{32}")


def verp_key(secret: bytes) -> bytes:
    """The key that signs VERP tokens, derived from the newsletter secret.

    A separate key, so a VERP token can never stand in for an unsubscribe token or the
    other way round, though one secret makes both.
    """
    return hmac.new(secret, b"digest VERP v1", hashlib.sha256).digest()


def _edition_hash(edition_id: str) -> bytes:
    return hashlib.sha256(b"edition\0" + edition_id.encode()).digest()[:_EDITION_BYTES]


def _email_hash(email: str) -> bytes:
    return hashlib.sha256(b"email\0" + email.encode()).digest()[:_EMAIL_BYTES]


def _mac(key: bytes, ids: bytes) -> bytes:
    return hmac.new(key, ids, hashlib.sha256).digest()[:_MAC_BYTES]


def make_token(key: bytes, edition_id: str, email: str) -> str:
    """The token of one delivery: the same for every try of that message."""
    ids = _edition_hash(edition_id) + _email_hash(email)
    return base64.b32encode(ids + _mac(key, ids)).decode().lower()


def verp_address(key: bytes, bounce_address: str, edition_id: str, email: str) -> str:
    """`bounces+TOKEN@domain` for one delivery, from `bounces@domain`."""
    local, _, domain = bounce_address.rpartition("@")
    return f"{local}+{make_token(key, edition_id, email)}@{domain}"


def envelope_sender(key: bytes, bounce_address: str, edition_id: str
                    ) -> Callable[[str], str]:
    """The MAIL FROM of each subscriber's message of one edition."""
    return lambda email: verp_address(key, bounce_address, edition_id, email)


@dataclass(frozen=True)
class TokenIds:
    """What a genuine token names: hashes of the edition id and of the address."""

    edition: bytes
    email: bytes


def read_token(key: bytes, token: str) -> TokenIds | None:
    """The ids of a token we made, or None for anything else (cut, changed, forged).

    The signature is compared in constant time; case is ignored (see the module docstring).
    """
    token = token.strip().lower()
    if not _TOKEN.fullmatch(token):
        return None
    raw = base64.b32decode(token.upper())  # 160 bits: 32 characters, no padding, no spare bits
    ids, mac = raw[:_EDITION_BYTES + _EMAIL_BYTES], raw[_EDITION_BYTES + _EMAIL_BYTES:]
    if not hmac.compare_digest(mac, _mac(key, ids)):
        return None
    return TokenIds(ids[:_EDITION_BYTES], ids[_EDITION_BYTES:])


def token_of(bounce_address: str, address: str) -> str | None:
    """The TOKEN of `bounces+TOKEN@domain` when `address` has that form, else None.

    The local part's base and the domain compare without regard to case: mail systems keep
    neither reliably.
    """
    address = address.strip().strip("<>").strip()
    local, at, domain = address.rpartition("@")
    base_local, _, base_domain = bounce_address.rpartition("@")
    if not at or domain.lower() != base_domain.lower():
        return None
    base, plus, token = local.partition("+")
    if not plus or base.lower() != base_local.lower():
        return None
    return token


class Deliveries(Protocol):
    """The ledger reads a resolver needs (`digest.store.Store` has them)."""

    def edition_ids(self) -> list[str]: ...

    def delivery_addresses(self, edition_id: str) -> list[str]: ...


class Resolver:
    """Finds the (edition, address) a genuine token names, from the ledger.

    Each edition's addresses are hashed once per resolver (about 50 ms per 100,000), so one
    scan of many bounces pays that once per edition it meets.
    """

    def __init__(self, key: bytes, ledger: Deliveries) -> None:
        self._key = key
        self._ledger = ledger
        self._editions: dict[bytes, list[str]] | None = None
        self._addresses: dict[str, dict[bytes, str]] = {}

    def resolve(self, token: str) -> tuple[str, str] | Literal["forged", "unknown"]:
        """(edition id, address) for a genuine token of a known delivery; "unknown" for a
        genuine token whose delivery is not in the ledger; "forged" for one we did not make."""
        ids = read_token(self._key, token)
        if ids is None:
            return "forged"
        if self._editions is None:
            self._editions = {}
            for edition_id in self._ledger.edition_ids():
                self._editions.setdefault(_edition_hash(edition_id), []).append(edition_id)
        for edition_id in self._editions.get(ids.edition, []):
            by_hash = self._addresses.get(edition_id)
            if by_hash is None:
                by_hash = self._addresses[edition_id] = _by_hash(
                    self._ledger.delivery_addresses(edition_id))
            email = by_hash.get(ids.email)
            if email is not None:
                return edition_id, email
        return "unknown"


def _by_hash(addresses: Iterable[str]) -> dict[bytes, str]:
    return {_email_hash(a): a for a in addresses}
