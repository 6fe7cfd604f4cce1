"""Serve: wire the reader-facing web app to the token key and to deliver's SMTP code.

The web app (audience) must not know SMTP; it gets a `Mail` callable built here from the
config's `[smtp]` settings and the password in the environment.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime

from starlette.applications import Starlette

from digest.audience import web
from digest.config import Config
from digest.deliver.notice import notice_mailer
from digest.pipeline import sender_for, token_key


def web_app(config: Config, environ: Mapping[str, str],
            clock: Callable[[], datetime], key: bytes | None = None) -> Starlette:
    """`digest serve`'s app: unsubscribe, preferences, archive, signup and the reader's data.

    Raises:
        ConfigError: the token key is missing or too short.
    """
    key = key or token_key(config, environ)
    smtp = config.smtp
    if smtp.tls_ca_file:
        smtp = dataclasses.replace(smtp, tls_ca_file=str(config.resolve(smtp.tls_ca_file)))
    mail = notice_mailer(smtp, environ.get(config.smtp.password_env, ""),
                         sender_for(config, key), clock)
    return web.create_app(config, key, clock, mail)
