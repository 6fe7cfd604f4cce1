"""Logging for operators: human lines or one JSON object per line, and no secret ever.

In: the level and format the command line asked for, and the secret values to keep out.
Out: the root logger configured to write to a stream. Every record goes through one
formatter that replaces any secret value (the SMTP password, the token key) and any
password in a URL (`https://user:pass@host`) with `***`, whichever logger wrote it, before it
is written: a defence behind the rule that secrets are never passed to a logger at all.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Literal, TextIO

LogFormat = Literal["text", "json"]

MASK = "***"
# Names of environment variables whose values are treated as secrets, besides those the
# config names (newsletter.secret_env, smtp.password_env).
_SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY", re.I)
_URL_PASSWORD = re.compile(r"(?<=://)([^/\s:@]+):[^/\s@]+@")
_HANDLER = "digest"
_SHORTEST_SECRET = 6  # masking shorter values would garble ordinary words in the logs
# Other libraries' chatter is for -vv only: httpx logs every request at INFO, APScheduler
# every job start and end (digest.service.schedule says what matters in its own lines).
_CHATTY = ("httpx", "httpcore", "apscheduler", "mail.log", "asyncio")
# What a LogRecord has on its own; anything else came in `extra=` and goes into the JSON.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def secret_values(environ: Mapping[str, str], names: Iterable[str]) -> tuple[str, ...]:
    """The values to mask: the named variables' and any variable that looks like a secret."""
    chosen = set(names) | {k for k in environ if _SECRET_NAME.search(k)}
    values = {environ[k] for k in chosen if len(environ.get(k, "")) >= _SHORTEST_SECRET}
    return tuple(sorted(values, key=len, reverse=True))  # longest first: no partial masks


class Redactor:
    """Replaces secret values and URL passwords in text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = tuple(s for s in secrets if s)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return _URL_PASSWORD.sub(rf"\1:{MASK}@", text)


class TextFormatter(logging.Formatter):
    """`2026-11-26 07:00:01 INFO digest.service.schedule: message`, redacted."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s",
                         datefmt="%Y-%m-%d %H:%M:%S")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC), level, logger, message, extras, exception."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self.redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = self.redact(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exception"] = self.redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure(level: int, log_format: LogFormat, secrets: Iterable[str], stream: TextIO) -> None:
    """Send every log record to `stream` in `log_format`, secrets masked.

    Args:
        level: the lowest level shown for digest's own loggers; other libraries show
            warnings and worse unless `level` is DEBUG.
        log_format: "text" for people, "json" for log collectors.
        secrets: values never to write.
        stream: where the lines go (stderr: stdout is the command's own output).
    """
    redact = Redactor(secrets)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(redact) if log_format == "json" else TextFormatter(redact))
    handler.set_name(_HANDLER)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER]:
        root.removeHandler(old)  # configured again in one process (tests): replace, not add
    root.addHandler(handler)
    root.setLevel(level)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(level if level <= logging.DEBUG else
                                         max(level, logging.WARNING))
    logging.getLogger("apscheduler").setLevel(level if level <= logging.DEBUG else
                                              max(level, logging.ERROR))
