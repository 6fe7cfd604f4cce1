"""Web: the HTTP endpoints the links in every email point to (`digest serve`).

In: HTTP requests carrying signed tokens (`?t=`), the config, the token key, a clock. Out:
HTML pages for people (`pages.py`) and writes to the state database: a suppression when
someone unsubscribes (RFC 8058 one-click or the page's button), their topics and frequency
when they save preferences. GET never changes anything (mail scanners follow links); every
error is an HTML page with the right status and no stack trace.

    GET  /unsubscribe?t=…   a page naming the newsletter and the address, with one button
    POST /unsubscribe?t=…   suppress the address (body List-Unsubscribe=One-Click or the form)
    GET  /preferences?t=…   topics and frequency form;  POST saves it
    GET  /archive/          sent editions, newest first;  GET /archive/<edition>: its page
    GET  /healthz           "ok" when the state database opens
    /subscribe, /confirm    signing up (`signup.py`);  /data, /delete: the reader's data
                            (`readerdata.py`)

Only POST changes state, by construction: each path is an `Endpoint` whose `show` (GET,
HEAD) gets a database connection that refuses writes and whose `act` alone (POST) gets one
that accepts them.
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from http import HTTPStatus
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qs, quote

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from digest.audience.notices import Mail
from digest.audience.pages import (
    archive_page,
    error_page,
    preferences_page,
    unsubscribe_page,
    unsubscribed_page,
)
from digest.audience.readerdata import reader_data_routes
from digest.audience.requests import refuse_cross_site
from digest.audience.signup import signup_routes
from digest.audience.subscribers import find_subscriber, parse_topics, read_token
from digest.config import Config
from digest.errors import DigestError, InputError, SubscriberError
from digest.model import DatabaseUrl, Frequency
from digest.render.archive import public_page
from digest.render.brand import Brand, brand_for
from digest.render.edition import archive_name
from digest.store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_FORM_BYTES = 64 * 1024
_EDITION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
# Token pages must not leak the token (Referer) nor be framed (clickjacking the button).
_TOKEN_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "form-action 'self'; frame-ancestors 'none'",
}
_ARCHIVE_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "img-src https: http: data:; frame-ancestors 'none'",
}
_STATUS_TEXT = {
    400: ("This link is not valid", "The link is incomplete or was changed. Use the link from "
          "the newsletter exactly as it arrived."),
    404: ("Not found", "There is no page at this address."),
    405: ("Not allowed", "This page cannot be used that way."),
    413: ("Too large", "What was sent is too large."),
    415: ("Not a form", "Send the form from the page."),
    500: ("Something went wrong", "The server could not do that just now. Try again later."),
}


@dataclass(frozen=True)
class Endpoint:
    """One path of the app: what it shows and what it does, kept apart.

    `show` answers GET (and HEAD, which Starlette routes to it) with a database that refuses
    every write; `act` answers POST, the only method that can change state. Mail scanners
    fetch every link with GET or HEAD, so this split is what keeps a reader's mailbox from
    acting for them. Other methods (OPTIONS, PUT, DELETE...) get 405.
    """

    path: str
    show: Handler | None = None
    act: Handler | None = None


class StoreAccess:
    """Runs work against the state database in a worker thread; read-only unless writable."""

    def __init__(self, path: Path | DatabaseUrl, writable: bool) -> None:
        self._path = path
        self._writable = writable

    async def __call__(self, work: Callable[[Store], T]) -> T:
        def run() -> T:
            with Store.open(self._path, read_only=not self._writable) as store:
                return work(store)
        return await run_in_threadpool(run)


Handler = Callable[[Request, StoreAccess], Awaitable[Response]]


def create_app(config: Config, key: bytes, clock: Callable[[], datetime], mail: Mail,
               more: Sequence[Endpoint] = ()) -> Starlette:
    """The ASGI app for unsubscribe, preferences and the archive.

    Args:
        config: the validated config (newsletter name, database, lists, topics).
        key: the HMAC key that signed the tokens.
        clock: gives "now" for the time written with each suppression and preference.
        mail: sends one confirmation or welcome email (from the composition root).
        more: further endpoints (another module's), served the same way.
    Returns:
        A Starlette app; run it with uvicorn.
    """
    newsletter = config.newsletter.name
    brand = brand_for(config.newsletter)  # the email's palette and logo, on every page

    def page(html: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return HTMLResponse(html, status_code=status, headers=headers or _TOKEN_HEADERS)

    def token_of(request: Request) -> tuple[str, str, str]:
        token = request.query_params.get("t", "").strip()
        try:
            list_name, email = read_token(key, token)
        except SubscriberError as e:
            raise HTTPException(400, f"{e}. Use the link from the newsletter exactly as it "
                                     "arrived; nothing was changed.") from None
        return token, list_name, email

    async def unsubscribe_form(request: Request, store: StoreAccess) -> Response:
        token, _, email = token_of(request)
        return page(unsubscribe_page(newsletter, email, f"unsubscribe?t={quote(token)}",
                                     f"preferences?t={quote(token)}", brand=brand))

    async def unsubscribe(request: Request, store: StoreAccess) -> Response:
        _, list_name, email = token_of(request)
        # RFC 8058: the POST itself is the consent; its body (List-Unsubscribe=One-Click, or
        # the button's form) needs no checking, and there is no redirect and no cookie.
        reason = f"unsubscribed from list {list_name!r} by its link"
        def leave(s: Store) -> None:
            s.suppress(email, reason, clock())
            s.mark_unsubscribed(email, clock())
        await store(leave)
        log.info("unsubscribed %s (list %s)", email, list_name)
        return page(unsubscribed_page(newsletter, email, brand=brand))

    async def preferences_form(request: Request, store: StoreAccess,
                               saved: bool = False) -> Response:
        token, list_name, email = token_of(request)
        known = {t.lower(): t for t in config.topics}

        def current(s: Store) -> tuple[tuple[str, ...], str, bool]:
            chosen = s.preference(email)
            suppressed = s.suppression(email) is not None
            if chosen is not None:
                return chosen[0], chosen[1], suppressed
            listed = find_subscriber(config.subscriber_lists, list_name, email, known)
            if listed is None:
                return (), "daily", suppressed
            return listed.topics, listed.frequency, suppressed

        topics, frequency_now, suppressed = await store(current)
        return page(preferences_page(
            newsletter, email, f"preferences?t={quote(token)}", f"unsubscribe?t={quote(token)}",
            config.topics, topics, frequency_now, saved, suppressed, brand=brand))

    async def save_preferences(request: Request, store: StoreAccess) -> Response:
        _, _, email = token_of(request)
        refuse_cross_site(request, config.newsletter.base_url)
        known = {t.lower(): t for t in config.topics}
        form = await _form(request)
        try:
            chosen = parse_topics(form.get("topics", []), known)
        except SubscriberError as e:
            raise HTTPException(400, f"{e}; nothing was saved.") from None
        frequency_text = (form.get("frequency") or ["daily"])[0]
        if frequency_text not in ("daily", "weekly"):
            raise HTTPException(400, "Choose daily or weekly; nothing was saved.")
        frequency: Frequency = "weekly" if frequency_text == "weekly" else "daily"
        await store(lambda s: s.set_preference(email, chosen, frequency, clock()))
        return await preferences_form(request, store, saved=True)

    async def archive_index(request: Request, store: StoreAccess) -> Response:
        editions = await store(lambda s: s.editions(limit=1000))
        return page(archive_page(newsletter, editions, brand=brand), headers=_ARCHIVE_HEADERS)

    async def archive_slash(request: Request, store: StoreAccess) -> Response:
        # Relative, so the Host header (anyone's to forge) never picks where it points.
        return Response(status_code=308, headers={"Location": "archive/"})

    async def archive_edition(request: Request, store: StoreAccess) -> Response:
        edition_id = request.path_params["edition"].removesuffix(".html")
        if not _EDITION_ID.fullmatch(edition_id):
            raise HTTPException(404)
        rendered = await store(lambda s: s.edition(edition_id))
        if rendered is None:
            raise HTTPException(404, f"There is no edition {edition_id!r} in the archive.")
        # The page `digest send` wrote to the archive folder when it made the edition; for an
        # edition whose page is gone, the stored render made public.
        written = config.state_folder / "archive" / f"{archive_name(edition_id)}.html"
        try:
            html = await run_in_threadpool(lambda: written.read_text(encoding="utf-8"))
        except OSError:
            html = public_page(rendered, config.newsletter.base_url.rstrip("/"),
                               config.newsletter.name, parseaddr(config.newsletter.sender)[1])
        return HTMLResponse(html, headers=_ARCHIVE_HEADERS)

    async def healthz(request: Request, store: StoreAccess) -> Response:
        await store(lambda s: s.suppression(""))
        return PlainTextResponse("ok\n", headers={"Cache-Control": "no-store"})

    endpoints = [
        Endpoint("/unsubscribe", show=unsubscribe_form, act=unsubscribe),
        Endpoint("/preferences", show=preferences_form, act=save_preferences),
        Endpoint("/archive", show=archive_slash),
        Endpoint("/archive/", show=archive_index),
        Endpoint("/archive/{edition}", show=archive_edition),
        Endpoint("/healthz", show=healthz),
        *more,
    ]
    # Signing up and the reader's data keep their own GET/POST pairs (GET writes nothing).
    routes = [*signup_routes(config, key, clock, mail), *reader_data_routes(config, key, clock)]
    return app_of(endpoints, config.database_path, newsletter, brand, routes)


def app_of(endpoints: Sequence[Endpoint], database: Path | DatabaseUrl, newsletter: str,
           brand: Brand,
           routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The Starlette app serving `endpoints`: `show` on GET and HEAD with a read-only
    database, `act` on POST with a writable one; `routes` as they are; errors are pages for
    people."""

    def failure(status: int, message: str | None = None) -> Response:
        title, default = _STATUS_TEXT.get(status, _STATUS_TEXT[500])
        return HTMLResponse(error_page(newsletter, title, message or default, brand=brand),
                            status_code=status, headers=_TOKEN_HEADERS)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        detail = exc.detail if exc.detail and exc.detail != _http_phrase(exc.status_code) else None
        return failure(exc.status_code, detail)

    def guarded(handler: Handler, writable: bool) -> Callable[[Request], Awaitable[Response]]:
        """The handler with its store access, anything unexpected a 500 page (logged)."""
        store = StoreAccess(database, writable)

        async def run(request: Request) -> Response:
            try:
                return await handler(request, store)
            except HTTPException:
                raise
            except DigestError as e:
                log.error("%s %s: %s", request.method, request.url.path, e)
            except Exception:
                log.exception("%s %s failed", request.method, request.url.path)
            return failure(500)
        return run

    served: list[BaseRoute] = []
    for endpoint in endpoints:
        if endpoint.show is not None:
            served.append(Route(endpoint.path, guarded(endpoint.show, writable=False),
                                methods=["GET"]))
        if endpoint.act is not None:
            served.append(Route(endpoint.path, guarded(endpoint.act, writable=True),
                                methods=["POST"]))
    app = Starlette(routes=[*served, *routes], exception_handlers={HTTPException: http_error})
    # No slash redirects: Starlette builds them from the Host header, which anyone can forge.
    app.router.redirect_slashes = False
    return app


async def _form(request: Request) -> dict[str, list[str]]:
    """A urlencoded form body, bounded in size (the forms have two fields)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise HTTPException(415)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413)
    return parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=False)


def _http_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def serve(app: Starlette, host: str, port: int, verbose: bool = False) -> None:
    """Run the app with uvicorn until interrupted.

    Raises:
        InputError: the address cannot be bound (in use, or not this machine's).
    """
    try:
        with socket.create_server((host, port)):
            pass  # uvicorn would log and exit; say which port and what to do instead
    except OSError as e:
        raise InputError(f"cannot listen on {host}:{port}: {e.strerror}; pass --port or change "
                         "[web] port") from e
    settings = uvicorn.Config(app, host=host, port=port,
                              log_level="info" if verbose else "warning", server_header=False)
    # After uvicorn.Config, which sets up uvicorn's loggers: the access log never gets a
    # query string, where every unsubscribe and preferences token travels.
    logging.getLogger("uvicorn.access").addFilter(_without_query)
    uvicorn.Server(settings).run()


def _without_query(record: logging.LogRecord) -> bool:
    """uvicorn's access line (client, method, path?query, version, status), query dropped."""
    if isinstance(record.args, tuple) and len(record.args) >= 3:
        args = list(record.args)
        args[2] = str(args[2]).partition("?")[0]
        record.args = tuple(args)
    return True
