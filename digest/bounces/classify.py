"""Classify: one inbound message's bytes to a `Report` (pure: no store, no clock, no network).

In: the raw bytes of a message that came back to the bounce address. Out: what it is (a DSN,
a non-standard bounce, an ARF complaint, an auto-reply, or unrecognised), the per-recipient
findings (hard, soft, complaint, ignored) with the raw line that proves each, and the
addresses where a VERP token may be found (the envelope recipient first).

Order matters: RFC 3464 and RFC 5965 reports say exactly what happened and are read with
the standard email package; auto-replies (RFC 3834 and the usual headers) come before the
heuristics, which would otherwise read "I am away until Monday" as a failure; flufl.bounce's
detectors know the non-standard formats of dozens of real MTAs. Whatever goes wrong inside a
hostile MIME tree makes the message "unrecognised", kept for a person, never an exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32
from email.utils import getaddresses, parseaddr
from typing import Literal

import flufl.bounce

Form = Literal["dsn", "arf", "bounce", "autoreply", "unrecognised"]
Kind = Literal["hard", "soft", "complaint", "ignored"]

_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_FAILURE = re.compile(r"\b[45]\.\d{1,3}\.\d{1,3}\b")
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_BOUNCE_SUBJECT = re.compile(r"undeliver|failure|failed|delivery status|returned mail|"
                             r"non-?delivery|could not be delivered", re.I)
_REPLY = re.compile(r"\b([45])\d\d\b")
# 5.x.x codes that say nothing against the address itself: a full mailbox, a message too big,
# a policy or spam block. They count as soft: repeated, they still end in a suppression.
_SOFT_PERMANENT = ("5.2.2", "5.2.3", "5.3.4")
_COMPLAINTS = ("abuse", "fraud", "virus", "other", "opt-out", "opt-out-list")
_AUTO_SUBJECT = re.compile(
    r"^\s*(auto(matic)?[ _-]?(reply|response|antwort)|out of (the )?office|"
    r"abwesenheit|absence|vacation|away from|r[ée]ponse automatique|auto:)", re.I)
_DAEMONS = ("mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon")
_TEXT_LIMIT = 256 * 1024  # of a part read for the evidence line: enough for any bounce text
# A real bounce nests a few multiparts; the parser's time grows with the square of the depth
# (20,000 levels: seconds), so a message with more boundaries than this is not parsed at all.
_MAX_BOUNDARIES = 100


@dataclass(frozen=True)
class Finding:
    """What the report says about one recipient."""

    kind: Kind
    recipient: str  # the address as the report names it ("" when it names none)
    status: str  # the enhanced status code ("5.1.1"), "" when the report gives none
    evidence: str  # the raw line that says so (Diagnostic-Code, the MTA's line, Feedback-Type)


@dataclass(frozen=True)
class Report:
    """One inbound message, classified."""

    form: Form
    message_id: str
    addresses: tuple[str, ...]  # where a VERP token may be, most trusted first
    edition: str  # the returned original's X-Digest-Edition, when it came back attached
    findings: tuple[Finding, ...] = ()
    detail: str = ""  # why it is unrecognised, or what it was


def severity(status: str) -> Kind:
    """Hard or soft for an enhanced status code: 5.x.x is hard (no such user, no such
    domain) except the codes about the message or the mailbox's state."""
    if status.startswith("5.") and not (status in _SOFT_PERMANENT or status.startswith("5.7.")):
        return "hard"
    return "soft"


def classify(raw: bytes) -> Report:
    """What a message that came back is, and what it says about which recipients.

    Never raises for what is in the bytes: a message that cannot be parsed, or that is
    none of the known kinds, is a Report of form "unrecognised" with the reason in `detail`.
    """
    if raw.lower().count(b"boundary=") > _MAX_BOUNDARIES:
        return Report("unrecognised", "", (), "",
                      detail=f"malformed: more than {_MAX_BOUNDARIES} MIME boundaries")
    try:
        message = message_from_bytes(raw, policy=compat32)
        return _classify(message)
    except (RecursionError, MemoryError):
        return Report("unrecognised", "", (), "", detail="malformed: MIME tree nested too deep")
    except Exception as e:  # a hostile tree can upset any part of the parser or detectors
        return Report("unrecognised", "", (), "",
                      detail=f"malformed: {type(e).__name__}: {str(e)[:200]}")


def _classify(message: Message) -> Report:
    message_id = _header(message, "Message-ID").strip()
    addresses = _envelope_addresses(message)
    original = _original(message)
    edition = _header(original, "X-Digest-Edition").strip() if original is not None else ""
    returned = (_header(original, "Return-Path"),) if original is not None else ()

    feedback = _first_part(message, "message/feedback-report")
    if feedback is not None:
        fields = _fields(feedback)[0] if _fields(feedback) else {}
        arf_from = (fields.get("original-mail-from", ""),)
        findings = _arf(fields, original)
        return Report("arf", message_id, addresses + arf_from + returned, edition, findings,
                      detail=f"Feedback-Type: {fields.get('feedback-type', '?')}")
    status_part = _first_part(message, "message/delivery-status") or _first_part(
        message, "message/global-delivery-status")
    if status_part is not None:
        findings = _dsn(status_part)
        if findings:
            return Report("dsn", message_id, addresses + returned, edition, findings)
    if _auto_reply(message):
        return Report("autoreply", message_id, addresses + returned, edition,
                      detail=f"auto-reply: {_header(message, 'Subject')[:120]}")
    if not getaddresses([_header(message, "From")]):
        # flufl.bounce's Yale detector takes the From header's first address unchecked; a
        # message without one would stop every detector after it
        del message["From"]
        message["From"] = "<>"
    temporary, permanent = flufl.bounce.all_failures(message)
    if temporary or permanent:
        findings = tuple(
            _heuristic(message, address.decode("ascii", "replace"), temporary=False)
            for address in sorted(permanent)
        ) + tuple(
            _heuristic(message, address.decode("ascii", "replace"), temporary=True)
            for address in sorted(temporary - permanent)
        )
        return Report("bounce", message_id, addresses + returned, edition, findings)
    findings = _daemon_lines(message)
    if findings:
        return Report("bounce", message_id, addresses + returned, edition, findings)
    why = "no DSN, complaint, auto-reply or known bounce format found"
    if message.defects:
        why += f" (defects: {', '.join(sorted({type(d).__name__ for d in message.defects}))})"
    return Report("unrecognised", message_id, addresses + returned, edition, detail=why)


def _header(message: Message, name: str) -> str:
    value = message.get(name)
    return "" if value is None else " ".join(str(value).split())


def _envelope_addresses(message: Message) -> tuple[str, ...]:
    """Where the envelope recipient is written, outermost (most recently added) first."""
    found: list[str] = []
    for name in ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To"):
        for value in message.get_all(name, []):
            found += [a for _, a in getaddresses([str(value)]) if a]
    return tuple(found)


def _first_part(message: Message, content_type: str) -> Message | None:
    for part in message.walk():
        if part.get_content_type() == content_type:
            return part
    return None


def _original(message: Message) -> Message | None:
    """The returned original (message/rfc822) or its headers (text/rfc822-headers)."""
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global") and part.is_multipart():
            inner = part.get_payload(0)
            if isinstance(inner, Message):
                return inner
        if kind in ("text/rfc822-headers", "message/rfc822-headers", "text/rfc822"):
            text = _text(part)
            if text:
                return HeaderParser(policy=compat32).parsestr(text, headersonly=True)
    return None


def _fields(part: Message) -> list[dict[str, str]]:
    """The header blocks of a delivery-status or feedback-report part, names lower-cased.

    The parser gives a list of header blocks for delivery-status and one message for a
    feedback report; a part it could not split arrives as text, which is split here.
    """
    payload = part.get_payload()
    blocks: list[Message] = []
    if isinstance(payload, list):
        blocks = [b for b in payload if isinstance(b, Message)]
    else:
        text = _text(part)
        blocks = [HeaderParser(policy=compat32).parsestr(chunk)
                  for chunk in re.split(r"\r?\n\s*\r?\n", text) if chunk.strip()]
    return [{k.lower(): " ".join(str(v).split()) for k, v in b.items()} for b in blocks]


def _dsn(part: Message) -> tuple[Finding, ...]:
    findings = []
    for fields in _fields(part)[1:] or _fields(part):
        recipient = fields.get("final-recipient") or fields.get("original-recipient", "")
        if not recipient:
            continue
        recipient = parseaddr(recipient.partition(";")[2] or recipient)[1]
        action = fields.get("action", "").lower()
        diagnostic = fields.get("diagnostic-code", "")
        match = _STATUS.search(fields.get("status", "")) or _STATUS.search(diagnostic)
        status = match.group(0) if match else ""
        if not status:
            reply = _REPLY.search(diagnostic)
            status = f"{reply.group(1)}.0.0" if reply else ""
        evidence = diagnostic.partition(";")[2].strip() or diagnostic or \
            f"Action: {action}; Status: {fields.get('status', '')}"
        if action == "failed" or (not action and status.startswith("5.")):
            kind: Kind = severity(status) if status else "hard"
        else:  # delayed (still trying), delivered, relayed, expanded: no failure yet
            kind = "ignored"
        findings.append(Finding(kind, recipient, status, evidence[:500]))
    return tuple(findings)


def _arf(fields: dict[str, str], original: Message | None) -> tuple[Finding, ...]:
    feedback_type = fields.get("feedback-type", "").lower()
    kind: Kind = "complaint" if feedback_type in _COMPLAINTS else "ignored"
    recipients = [a for k in ("original-rcpt-to", "removal-recipient")
                  if (a := parseaddr(fields.get(k, ""))[1]) and "@" in a]
    if not recipients and original is not None:
        recipients = [a for _, a in getaddresses([_header(original, "To")]) if "@" in a]
    agent = fields.get("user-agent", "")
    evidence = f"Feedback-Type: {feedback_type or '?'}" + (f" ({agent})" if agent else "")
    return tuple(Finding(kind, r, "", evidence) for r in recipients or [""])


def _auto_reply(message: Message) -> bool:
    sender = parseaddr(_header(message, "From"))[1].lower()
    if sender.partition("@")[0] in _DAEMONS:
        return False  # a mailer daemon's "auto-replied" is a bounce, whatever it says
    submitted = _header(message, "Auto-Submitted").lower()
    precedence = _header(message, "Precedence").lower()
    return bool(
        submitted.startswith("auto-replied")
        or message.get("X-Autoreply") is not None
        or message.get("X-Autorespond") is not None
        or precedence == "auto_reply"
        or _AUTO_SUBJECT.search(_header(message, "Subject"))
    )


def _heuristic(message: Message, address: str, temporary: bool) -> Finding:
    line = _evidence_line(message, address)
    match = _FAILURE.search(line)
    reply = _REPLY.search(line)
    status = match.group(0) if match else (f"{reply.group(1)}.0.0" if reply else "")
    if temporary:
        kind: Kind = "ignored"  # flufl's temporary failures are delay warnings
    elif status:
        kind = severity(status)
    else:
        kind = "hard"  # the detector matched a permanent-failure format
    return Finding(kind, address, status, line or "reported as failed (no status line found)")


def _daemon_lines(message: Message) -> tuple[Finding, ...]:
    """A mailer daemon's own wording: lines naming an address beside a 4xx/5xx reply.

    The last resort, for formats no detector knows (OpenSMTPD, Yahoo, Office 365 without its
    status part); only a message from a mailer daemon, or titled as a failure, is read so.
    """
    sender = parseaddr(_header(message, "From"))[1].lower().partition("@")[0]
    if sender not in _DAEMONS and not _BOUNCE_SUBJECT.search(_header(message, "Subject")):
        return ()
    found: dict[str, Finding] = {}
    for line in _body_lines(message):
        code = _FAILURE.search(line) or _REPLY.search(line)
        if code is None:
            continue
        match = _FAILURE.search(line)
        reply = _REPLY.search(line)
        status = match.group(0) if match else (f"{reply.group(1)}.0.0" if reply else "")
        for address in _ADDRESS.findall(line):
            found.setdefault(address, Finding(severity(status), address, status, line[:500]))
    return tuple(found.values())


def _body_lines(message: Message) -> list[str]:
    lines: list[str] = []
    for part in message.walk():
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            break  # the returned original follows: its lines are not the daemon's
        if part.get_content_maintype() == "text" and part.get_content_subtype() in (
                "plain", "html"):
            lines += [" ".join(line.split()) for line in _text(part).splitlines()]
        if len(lines) > 5000:
            break
    return lines


def _evidence_line(message: Message, address: str) -> str:
    """The line of the bounce's text that best says what happened to `address`."""
    lines = _body_lines(message)
    lower = address.lower()
    ranked = [
        [ln for ln in lines if lower in ln.lower() and _REPLY.search(ln)],
        [ln for ln in lines if _FAILURE.search(ln) or re.match(r"^\s*[45]\d\d[ -]", ln)],
        [ln for ln in lines if lower in ln.lower()],
    ]
    for candidates in ranked:
        if candidates:
            return candidates[0][:500]
    return ""


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        charset = part.get_content_charset() or "utf-8"
        try:
            return payload[:_TEXT_LIMIT].decode(charset, errors="replace")
        except LookupError:
            return payload[:_TEXT_LIMIT].decode("utf-8", errors="replace")
    raw = part.get_payload()
    return raw[:_TEXT_LIMIT] if isinstance(raw, str) else ""
