"""Sink, reading side: the messages `digest sink` captured, as plain values for its web view.

In: the sink's Maildir folder (written by `digest.sink.server.MaildirHandler`, or by any Maildir
writer). Out: `Captured` summaries for the list (time, to, subject, size), a `CapturedMessage`
with its parts, headers and raw source for one message, and deletions. Captured mail is
untrusted and may be malformed in any way (no parts, unknown charsets, broken headers): every
reader here degrades to the raw text rather than raising.
"""

from __future__ import annotations

import os
import re
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from pathlib import Path

from digest.errors import InputError

# What the sink prepends to every message it stores (see digest.sink.server.MaildirHandler).
ENVELOPE_PREFIX = "X-Sink-Envelope-"
# Enough bytes to hold the headers of any message we list; the body is never read for the list.
_HEAD_BYTES = 64 * 1024
_KEY = re.compile(r"^[^/\x00.][^/\x00]*$")


@dataclass(frozen=True)
class Captured:
    """One captured message as the list shows it."""

    key: str  # the Maildir key: the file name without the ":2,flags" info
    received: datetime  # when the sink stored it (the file's mtime), UTC
    to: str
    subject: str
    size: int  # bytes on disk


@dataclass(frozen=True)
class CapturedMessage:
    """One captured message, read whole."""

    summary: Captured
    headers: tuple[tuple[str, str], ...]  # every header, in order, decoded to text
    html: str | None  # the text/html part, decoded; None when there is none
    text: str | None  # the text/plain part, decoded; None when there is none
    raw: bytes  # the file as stored, the sink's envelope headers included

    @property
    def sent_raw(self) -> bytes:
        """The message as the client sent it: the raw source less the sink's envelope lines."""
        lines = self.raw.split(b"\n")
        prefix = ENVELOPE_PREFIX.lower().encode()
        i = 0
        while i < len(lines) and lines[i].lower().startswith(prefix):
            i += 1
        return b"\n".join(lines[i:])

    def header(self, name: str) -> list[str]:
        """Every value of one header, case-insensitively, in order."""
        return [v for k, v in self.headers if k.lower() == name.lower()]


class CapturedMailbox:
    """The sink's Maildir, read for the web view. Summaries are cached per key (files in a
    Maildir never change once delivered), so listing thousands of messages reads each head once.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._summaries: dict[tuple[str, int], Captured] = {}

    def _files(self) -> dict[str, Path]:
        """Key → file for every delivered message (new/ and cur/; tmp/ is still being written)."""
        files: dict[str, Path] = {}
        for sub in ("new", "cur"):
            try:
                entries = list(os.scandir(self.path / sub))
            except FileNotFoundError:
                continue
            for entry in entries:
                key = entry.name.split(":", 1)[0]
                if _KEY.match(key) and entry.is_file():
                    files[key] = Path(entry.path)
        return files

    def version(self) -> tuple[int, str]:
        """Changes whenever a message arrives or goes: (count, the greatest key)."""
        files = self._files()
        return len(files), max(files, default="")

    def list(self) -> list[Captured]:
        """Every captured message, newest first."""
        found: list[Captured] = []
        live: set[tuple[str, int]] = set()
        for key, path in self._files().items():
            try:
                stat = path.stat()
            except FileNotFoundError:  # deleted between the scan and now
                continue
            cache_key = (key, stat.st_mtime_ns)
            live.add(cache_key)
            summary = self._summaries.get(cache_key)
            if summary is None:
                try:
                    with path.open("rb") as f:
                        head = f.read(_HEAD_BYTES)
                except FileNotFoundError:
                    continue
                summary = _summary(key, head, stat.st_mtime_ns, stat.st_size)
                self._summaries[cache_key] = summary
            found.append(summary)
        for gone in set(self._summaries) - live:
            self._summaries.pop(gone, None)  # another request may have dropped it already
        found.sort(key=lambda c: (c.received, c.key), reverse=True)
        return found

    def read(self, key: str) -> CapturedMessage:
        """One message, parsed.

        Raises:
            InputError: no message has this key (never captured, or deleted).
        """
        path = self._path_of(key)
        try:
            raw = path.read_bytes()
            stat = path.stat()
        except FileNotFoundError as e:
            raise InputError(f"no captured message {key!r}: it was deleted") from e
        summary = _summary(key, raw[:_HEAD_BYTES], stat.st_mtime_ns, stat.st_size)
        message = message_from_bytes(raw, policy=policy.default)
        return CapturedMessage(
            summary=summary,
            headers=tuple((name, _header_text(message, name, value))
                          for name, value in message.raw_items()),
            html=_part(message, "html"),
            text=_part(message, "plain"),
            raw=raw,
        )

    def delete(self, key: str) -> None:
        """Remove one message.

        Raises:
            InputError: no message has this key.
        """
        path = self._path_of(key)
        try:
            path.unlink()
        except FileNotFoundError as e:
            raise InputError(f"no captured message {key!r}: it was already deleted") from e

    def delete_all(self) -> int:
        """Remove every delivered message; returns how many went."""
        count = 0
        for path in self._files().values():
            try:
                path.unlink()
                count += 1
            except FileNotFoundError:
                pass
        return count

    def _path_of(self, key: str) -> Path:
        # The key comes from a URL: look it up among the files, never join it into a path.
        path = self._files().get(key)
        if path is None:
            raise InputError(f"no captured message {key!r} in {self.path}")
        return path


def _summary(key: str, head: bytes, mtime_ns: int, size: int) -> Captured:
    # Only the header block: the parser would otherwise copy the body it then ignores. And the
    # plain compat32 parse with RFC 2047 decoding: the default policy's structured address
    # parsing costs milliseconds a message, seconds for a list of thousands.
    ends = [i for i in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if i >= 0]
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(
        head[:min(ends) + 1] if ends else head)
    to = _decoded(headers, "To") or _decoded(headers, ENVELOPE_PREFIX + "To")
    return Captured(
        key=key,
        received=datetime.fromtimestamp(mtime_ns / 1e9, UTC),
        to=to,
        subject=_decoded(headers, "Subject"),
        size=size,
    )


def _decoded(message: Message, name: str) -> str:
    """A header's value with encoded words decoded, on one line; raw when undecodable."""
    value = message.get(name)
    if value is None:
        return ""
    text = str(value)
    with suppress(Exception):  # a hostile encoded word can break the decoder in many ways
        text = str(make_header(decode_header(text)))
    return " ".join(text.split())


def _header_text(message: EmailMessage, name: str, raw: str) -> str:
    """One header's decoded value; its raw text when the decoder cannot read it."""
    try:
        return str(message.policy.header_fetch_parse(name, raw))
    except Exception:  # a hostile header can break the decoder in many ways
        return str(raw)


def _part(message: EmailMessage, subtype: str) -> str | None:
    """The decoded body of the message's preferred text/<subtype> part, if any."""
    try:
        part = message.get_body(preferencelist=(subtype,))
    except Exception:
        return None
    if part is None or part.get_content_type() != f"text/{subtype}":
        return None
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError, AssertionError):
        # An unknown or lying charset: show the bytes as UTF-8 with replacement characters.
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else None
    # SMTP carries CRLF line ends; people read (and checks compare) plain newlines.
    return content.replace("\r\n", "\n") if isinstance(content, str) else None
