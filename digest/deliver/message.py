"""Address: make one subscriber's email from a rendered edition.

In: a `Rendered` edition, a `Subscriber`, the newsletter's sender and links. Out: the
subscriber's message with every header (From, To for that subscriber alone, Subject, Date,
Message-ID, List-Id, List-Unsubscribe, List-Unsubscribe-Post, X-Digest-Edition) and a
multipart/alternative body: text/plain first, text/html last. Feed text reaches headers only
through `one_line`, so it can never add a header.

Two ways to the same message: `build_message` makes an `email.message.EmailMessage` (for
previews and as the reference), and `PreparedMessage` encodes a rendered variant once and then
returns each subscriber's wire bytes by joining pre-encoded pieces (a few microseconds each).
"""

from __future__ import annotations

import binascii
import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from urllib.parse import quote

import dkim

from digest.audience.subscribers import make_token
from digest.ingest.sanitize import one_line
from digest.model import Rendered, Subscriber
from digest.render.edition import html_value, html_values


@dataclass(frozen=True)
class Sender:
    """Who the newsletter comes from and where its links point."""

    newsletter: str
    from_header: str  # "Name <address>"
    base_url: str  # no trailing slash
    token_key: bytes
    reply_to: str = ""

    @property
    def address(self) -> str:
        return parseaddr(self.from_header)[1]

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2] or "localhost"


class Personalizer:
    """A rendered text split once at its placeholders, filled per recipient by one join."""

    def __init__(self, text: str, placeholders: Mapping[str, str]) -> None:
        name_of = {mark: name for name, mark in placeholders.items()}
        pattern = re.compile("(" + "|".join(re.escape(m) for m in name_of) + ")")
        pieces = pattern.split(text)
        # Even indexes are literal text, odd ones are placeholder names.
        self._pieces = [p if i % 2 == 0 else name_of[p] for i, p in enumerate(pieces)]

    def fill(self, values: Mapping[str, str]) -> str:
        pieces = self._pieces[:]
        for i in range(1, len(pieces), 2):
            pieces[i] = values[pieces[i]]
        return "".join(pieces)


def recipient_values(sender: Sender, subscriber: Subscriber, edition_id: str,
                     token: str | None = None) -> dict[str, str]:
    """The per-subscriber values the templates' placeholders stand for (plain text)."""
    token = token or make_token(sender.token_key, subscriber.list_name, subscriber.email)
    return {
        "name": subscriber.name,
        "email": subscriber.email,
        "unsubscribe_url": f"{sender.base_url}/unsubscribe?t={token}",
        "preferences_url": f"{sender.base_url}/preferences?t={token}",
        "browser_url": browser_url(sender, edition_id),
    }


def browser_url(sender: Sender, edition_id: str) -> str:
    """The edition's "view in browser" page: the same for every subscriber."""
    return f"{sender.base_url}/archive/{quote(edition_id)}"


def message_id(sender: Sender, edition_id: str, email: str) -> str:
    """The same Message-ID for the same edition and subscriber on every try."""
    digest = hashlib.sha256(f"{edition_id}\0{email}".encode()).hexdigest()[:32]
    return f"<{_id_part(edition_id)}.{digest}@{sender.domain}>"


def _id_part(edition_id: str) -> str:
    # A Message-ID's left side is dot-atom text: keep the edition readable, drop the rest.
    return re.sub(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+", "-", one_line(edition_id)).strip(".") \
        or "edition"


def list_id(sender: Sender, list_name: str) -> str:
    """The List-Id header's value for one subscriber list (RFC 2919)."""
    label = re.sub(r"[^a-z0-9-]+", "-", list_name.lower()).strip("-") or "list"
    return formataddr((one_line(sender.newsletter), f"{label}.{sender.domain}"))


def list_unsubscribe(sender: Sender, unsubscribe_url: str, token: str) -> str:
    """The List-Unsubscribe value: the one-click https URL, then a mailto."""
    return (f"<{unsubscribe_url}>, "
            f"<mailto:{sender.address}?subject={quote('unsubscribe ' + token)}>")


def build_message(
    rendered: Rendered,
    subscriber: Subscriber,
    sender: Sender,
    now: datetime,
    html_part: Personalizer | None = None,
    text_part: Personalizer | None = None,
) -> EmailMessage:
    """One subscriber's email, made with the `email` package (the reference for the wire path).

    Args:
        rendered: the edition variant, placeholders unfilled.
        subscriber: the one recipient.
        sender: From, links and the token key.
        now: the Date header's value.
        html_part, text_part: the rendered parts already split (reused across recipients).
    Returns:
        The complete message.
    """
    html_part = html_part or Personalizer(rendered.html, rendered.placeholders)
    text_part = text_part or Personalizer(rendered.text, rendered.placeholders)
    token = make_token(sender.token_key, subscriber.list_name, subscriber.email)
    values = recipient_values(sender, subscriber, rendered.edition_id, token)
    escaped = html_values(values)

    msg = EmailMessage()
    msg["From"] = sender.from_header
    msg["To"] = Address(display_name=one_line(subscriber.name), addr_spec=subscriber.email)
    msg["Subject"] = one_line(rendered.subject)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id(sender, rendered.edition_id, subscriber.email)
    if sender.reply_to:
        msg["Reply-To"] = sender.reply_to
    msg["List-Id"] = list_id(sender, subscriber.list_name)
    msg["List-Unsubscribe"] = list_unsubscribe(sender, values["unsubscribe_url"], token)
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["X-Digest-Edition"] = one_line(rendered.edition_id)
    msg.set_content(text_part.fill(values), subtype="plain", charset="utf-8")
    msg.add_alternative(html_part.fill(escaped), subtype="html", charset="utf-8")
    return msg


class PreparedMessage:
    """A rendered edition variant encoded once; `wire()` gives one subscriber's message bytes.

    The MIME structure, the static headers and both bodies (quoted-printable, CRLF, lines of at
    most 76 bytes) are built once here. The per-subscriber values are encoded on their own and
    set between the pre-encoded pieces with a soft line break on each side, so no encoding can
    split or mangle a placeholder and no line grows past 76 bytes. The result parses to the
    same content as `build_message` (see tests/test_message.py).
    """

    def __init__(
        self,
        rendered: Rendered,
        sender: Sender,
        now: datetime,
        signer: DkimSigner | None = None,
    ) -> None:
        """Encode a variant once.

        Args:
            rendered: the edition variant, placeholders unfilled.
            sender: From, links and the token key.
            now: the Date header's value.
            signer: signs every message with DKIM when given.
        """
        self.edition_id = rendered.edition_id
        self.sender = sender
        self._signer = signer
        self._key = sender.token_key
        constant = browser_url(sender, rendered.edition_id)
        self._text = _EncodedPart(rendered.text, rendered.placeholders, constant, escape=False)
        self._html = _EncodedPart(rendered.html, rendered.placeholders, constant, escape=True)
        boundary = "=_digest_" + secrets.token_hex(12)
        static = EmailMessage(policy=policy.SMTP)
        static["From"] = sender.from_header
        static["Subject"] = one_line(rendered.subject)
        static["Date"] = format_datetime(now)
        if sender.reply_to:
            static["Reply-To"] = sender.reply_to
        static["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        static["X-Digest-Edition"] = one_line(rendered.edition_id)
        static["MIME-Version"] = "1.0"
        static["Content-Type"] = f'multipart/alternative; boundary="{boundary}"'
        head = static.as_bytes().split(b"\r\n\r\n", 1)[0] + b"\r\n"
        self._from, _, self._head = head.partition(b"\r\n")
        self._from += b"\r\n"
        part = (b'Content-Type: text/%s; charset="utf-8"\r\n'
                b"Content-Transfer-Encoding: quoted-printable\r\n\r\n")
        mark = b"--" + boundary.encode()
        self._open_text = b"\r\n" + mark + b"\r\n" + part % b"plain"
        # The line break before a boundary belongs to the boundary, not to the part.
        self._open_html = b"\r\n" + mark + b"\r\n" + part % b"html"
        self._close = b"\r\n" + mark + b"--\r\n"
        self._unsubscribe = f"{sender.base_url}/unsubscribe?t=".encode()
        self._preferences = f"{sender.base_url}/preferences?t="
        self._mailto = f"<mailto:{sender.address}?subject=unsubscribe%20".encode()
        self._list_ids: dict[str, bytes] = {}
        # message_id()'s pieces, so no address is parsed per subscriber
        self._id_key = f"{rendered.edition_id}\0"
        self._id_left = f"<{_id_part(rendered.edition_id)}."
        self._id_right = f"@{sender.domain}>"

    def message_id(self, email: str) -> str:
        """The Message-ID the subscriber with this address gets (the same on every try);
        equal to `message_id(sender, edition_id, email)`."""
        digest = hashlib.sha256((self._id_key + email).encode()).hexdigest()[:32]
        return f"{self._id_left}{digest}{self._id_right}"

    def wire(self, subscriber: Subscriber) -> bytes:
        """One subscriber's complete message as it goes on the wire (CRLF, not dot-stuffed).

        Args:
            subscriber: the one recipient.
        Returns:
            RFC 5322 bytes; 8-bit headers only when the address itself is not ASCII.
        """
        email = subscriber.email
        token = make_token(self._key, subscriber.list_name, email)
        unsubscribe = self._unsubscribe + token.encode()
        values = {
            "name": subscriber.name,
            "email": email,
            "unsubscribe_url": unsubscribe.decode(),
            "preferences_url": self._preferences + token,
        }
        list_header = self._list_ids.get(subscriber.list_name)
        if list_header is None:
            list_header = b"List-Id: " + _header_bytes(list_id(self.sender, subscriber.list_name))
            self._list_ids[subscriber.list_name] = list_header
        pieces = [
            self._from,
            b"To: ", _to_header(subscriber.name, email), b"\r\n",
            self._head,
            b"Message-ID: ", self.message_id(email).encode(), b"\r\n",
            list_header,
            b"List-Unsubscribe: <", unsubscribe, b">,\r\n ", self._mailto, token.encode(),
            b">\r\n",
            self._open_text, *self._text.fill(values),
            self._open_html, *self._html.fill(values),
            self._close,
        ]
        data = b"".join(pieces)
        return self._signer.sign(data) if self._signer is not None else data


_SOFT_BREAK = b"=\r\n"
_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]+")


class _EncodedPart:
    """A text part quoted-printable encoded once, with holes where the placeholders were."""

    def __init__(self, text: str, placeholders: Mapping[str, str], browser: str,
                 escape: bool) -> None:
        self._escape = escape
        text = text.replace(placeholders["browser_url"], _escaped("browser_url", browser, escape))
        if not text.endswith(("\n", "\r")):
            text += "\n"  # as the email package does: a text part ends with a line break
        name_of = {mark: name for name, mark in placeholders.items() if name != "browser_url"}
        pattern = re.compile("(" + "|".join(re.escape(m) for m in name_of) + ")")
        pieces = pattern.split(text)
        self._literals: list[bytes] = []
        self._names: list[str] = []
        for i, piece in enumerate(pieces):
            if i % 2:
                self._names.append(name_of[piece])
                continue
            encoded = _qp(_crlf(piece))
            if i + 1 < len(pieces) and encoded and not encoded.endswith(b"\r\n"):
                encoded += _SOFT_BREAK  # the value that follows starts a line of its own
            self._literals.append(encoded)

    def fill(self, values: Mapping[str, str]) -> list[bytes]:
        encoded: dict[str, bytes] = {}
        out = [self._literals[0]]
        for name, literal in zip(self._names, self._literals[1:], strict=True):
            value = encoded.get(name)
            if value is None:
                raw = _escaped(name, values[name], self._escape).encode()
                value = _qp(raw) + _SOFT_BREAK if raw else b""
                encoded[name] = value
            out.append(value)
            out.append(literal)
        return out


def _escaped(name: str, value: str, escape: bool) -> str:
    if not escape:
        return value
    return html_value(name, value)


def _crlf(text: str) -> bytes:
    """UTF-8 with every line break (as `bytes.splitlines` sees them) made CRLF."""
    lines = text.encode("utf-8").splitlines(keepends=True)
    return b"".join(
        line.rstrip(b"\r\n") + b"\r\n" if line.endswith((b"\n", b"\r")) else line
        for line in lines
    )


def _qp(data: bytes) -> bytes:
    """Quoted-printable with CRLF breaks. The added CRLF makes binascii use CRLF for its soft
    breaks too (it copies the first line break it sees) and encodes trailing spaces."""
    return binascii.b2a_qp(data + b"\r\n", istext=True)[:-2]


def _to_header(name: str, email: str) -> bytes:
    """The To header's value: the subscriber alone, the name quoted or encoded as needed."""
    name = one_line(name)[:200]
    address = email.encode()
    if not name:
        return address
    if name.isascii():
        if not _PHRASE.fullmatch(name):
            name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return name.encode() + b" <" + address + b">"
    return Header(name, "utf-8").encode(linesep="\r\n").encode() + b" <" + address + b">"


def _header_bytes(value: str) -> bytes:
    """A header value folded and encoded by the email package, then CRLF."""
    folded = policy.SMTP.fold_binary("X", value)
    return folded[len(b"X: "):]


class DkimSigner:
    """Signs whole messages with DKIM (rsa-sha256, relaxed/relaxed) through dkimpy."""

    HEADERS = (b"from", b"to", b"subject", b"date", b"message-id", b"list-id",
               b"list-unsubscribe", b"list-unsubscribe-post", b"mime-version", b"content-type")

    def __init__(self, selector: str, domain: str, private_key: bytes) -> None:
        self.selector = selector.encode()
        self.domain = domain.encode()
        self._key = private_key

    def sign(self, message: bytes) -> bytes:
        """The message with its DKIM-Signature header prepended.

        Raises:
            dkim.DKIMException: the key cannot sign (checked once at start by the pipeline).
        """
        header: bytes = dkim.sign(
            message, self.selector, self.domain, self._key,
            include_headers=list(self.HEADERS), canonicalize=(b"relaxed", b"relaxed"),
            linesep=b"\r\n",
        )
        return header + message
