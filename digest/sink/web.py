"""Sink, web view: `digest sink --web`, a local page over the sink's Maildir (a mail catcher).

In: HTTP requests on 127.0.0.1, the sink's Maildir (via `digest.sink.mailbox`). Out: the list
of captured messages (newest first, updated live by server-sent events), one message with its
HTML part in a sandboxed iframe at phone and desktop widths, its text part, headers, raw source
and checks (`digest.sink.mailcheck`), and deletion by POST.

Captured HTML is untrusted. It is never put into the app's own pages: it is served alone from
`/message/KEY/html` with a Content-Security-Policy that sandboxes it (no scripts, an opaque
origin, no forms) and the iframe that shows it carries the same sandbox. The app's own pages
load scripts and styles only from /static (no inline code), refuse to be framed, answer only to
the loopback host names (no DNS rebinding), and take state-changing requests only as POST from
their own origin.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import uvicorn
from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from digest.errors import InputError
from digest.sink.mailbox import CapturedMailbox
from digest.sink.mailcheck import Check, check_message, worst
from digest.sink.spamcheck import check_spamassassin

HOST = "127.0.0.1"
WIDTHS = (375, 640)  # a phone, and a desktop reading pane
# The app's own pages: scripts, styles and frames from this origin only, never framed.
APP_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
           "connect-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; "
           "frame-ancestors 'none'")
# A captured HTML part: no scripts, no forms, an opaque origin (`sandbox`), remote images and
# inline styles as a mail client would show them, framed only by the app.
CAPTURED_CSP = ("default-src 'none'; img-src * data:; style-src 'unsafe-inline'; "
                "font-src * data:; sandbox; base-uri 'none'; form-action 'none'; "
                "frame-ancestors 'self'")
PENDING = Check("spamassassin", "SpamAssassin score", "skip",
                "still scoring this message: the page fills it in (or reload in a moment)")
RAW_PAGE_LIMIT = 512 * 1024  # raw source shown on the page; the whole of it is at /raw
_STATIC = Path(__file__).resolve().parent / "static"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class WebSettings:
    """What the web view needs to know."""

    maildir: Path
    smtp_port: int  # shown on the empty list, so people know where to send
    spamassassin: str | None  # the executable, None when it is not installed
    spam_timeout: float = 30.0
    spam_wait: float = 2.0  # how long a page waits for SpamAssassin before showing "pending"
    poll_seconds: float = 0.5  # how often the event stream looks for new mail
    stream_seconds: float = 300.0  # an event stream ends after this; EventSource reconnects


class SecurityHeaders:
    """ASGI middleware: default security headers on every response that sets none itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(event: MutableMapping[str, Any]) -> None:
            if event["type"] == "http.response.start":
                headers = list(event.get("headers", []))
                names = {name.lower() for name, _ in headers}
                defaults = {
                    b"content-security-policy": APP_CSP.encode(),
                    b"x-content-type-options": b"nosniff",
                    # same-origin, not no-referrer: with no-referrer a browser sends
                    # "Origin: null" on form posts and the origin check could not pass.
                    b"referrer-policy": b"same-origin",
                    b"cache-control": b"no-store",
                }
                headers += [(k, v) for k, v in defaults.items() if k not in names]
                event = {**event, "headers": headers}
            await send(event)

        await self.app(scope, receive, send_with_headers)


def _same_origin(request: Request) -> bool:
    """A form post from the app's own page (browsers send Origin on every POST)."""
    expected = f"{request.url.scheme}://{request.headers.get('host', '')}"
    origin = request.headers.get("origin")
    if origin is not None:
        return origin == expected
    referer = request.headers.get("referer", "")
    return referer == expected or referer.startswith(expected + "/")


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KB" if n < 1024 * 1024 \
        else f"{n / 1024 / 1024:.1f} MB"


def _when(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S UTC")


def message_url(key: str) -> str:
    """The app's path of one message."""
    return f"/message/{quote(key, safe='')}"


class SinkWeb:
    """The web view's endpoints, over one Maildir. Holds the per-process caches."""

    def __init__(self, settings: WebSettings) -> None:
        self.settings = settings
        self.mailbox = CapturedMailbox(settings.maildir)
        self.templates = Environment(
            loader=PackageLoader("digest.sink", "templates"),
            autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        )
        self.templates.filters.update(size=_size, when=_when, message_url=message_url)
        # Keyed by Maildir key: a stored message never changes.
        self._spam_tasks: dict[str, asyncio.Task[Check]] = {}
        self._spam_runs = asyncio.Semaphore(2)  # SpamAssassin is one Perl process per run

    async def spam_check(self, key: str, raw: bytes) -> Check:
        """SpamAssassin's verdict on a message, waiting for it at most `spam_wait` seconds.

        SpamAssassin takes seconds per message, so it runs in the background: a page that asks
        before it is done shows it as pending (the page's script, or a reload, picks it up).
        """
        task = self._spam_tasks.get(key)
        if task is None:
            task = asyncio.create_task(self._run_spamassassin(raw))
            self._spam_tasks[key] = task
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.settings.spam_wait)
        except TimeoutError:
            return PENDING

    async def _run_spamassassin(self, raw: bytes) -> Check:
        async with self._spam_runs:
            return await asyncio.to_thread(check_spamassassin, raw, self.settings.spamassassin,
                                           self.settings.spam_timeout)

    async def api_spam(self, request: Request) -> Response:
        """The SpamAssassin check as JSON; `pending` until it is done."""
        key = request.path_params["key"]
        try:
            msg = await asyncio.to_thread(self.mailbox.read, key)
        except InputError:
            return JSONResponse({"error": "no such message"}, status_code=404)
        check = await self.spam_check(key, msg.sent_raw)
        return JSONResponse({
            "pending": check is PENDING,
            "verdict": check.verdict, "name": check.name, "summary": check.summary,
            "findings": [{"verdict": f.verdict, "text": f.text} for f in check.findings]})

    def page(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.templates.get_template(template).render(
            smtp_port=self.settings.smtp_port, **context)
        return HTMLResponse(html, status_code=status)

    def missing(self, key: str) -> HTMLResponse:
        return self.page("missing.html.j2", status=404, key=key)

    async def index(self, request: Request) -> Response:
        messages = await asyncio.to_thread(self.mailbox.list)
        live = {m.key for m in messages}
        for gone in [k for k in self._spam_tasks if k not in live]:
            self._spam_tasks.pop(gone)  # deleted messages keep no SpamAssassin result
        return self.page("list.html.j2", messages=messages)

    async def api_messages(self, request: Request) -> Response:
        messages = await asyncio.to_thread(self.mailbox.list)
        return JSONResponse({"count": len(messages), "messages": [
            {"key": m.key, "url": message_url(m.key), "received": m.received.isoformat(),
             "received_text": _when(m.received), "to": m.to, "subject": m.subject,
             "size": m.size, "size_text": _size(m.size)} for m in messages]})

    async def events(self, request: Request) -> Response:
        """Server-sent events: one `mailbox` event now and whenever the Maildir changes."""
        settings = self.settings

        async def stream() -> AsyncIterator[str]:
            loop = asyncio.get_running_loop()
            end = loop.time() + settings.stream_seconds
            last: tuple[int, str] | None = None
            quiet = 0.0
            yield "retry: 1000\n\n"
            while loop.time() < end and not await request.is_disconnected():
                version = await asyncio.to_thread(self.mailbox.version)
                if version != last:
                    last, quiet = version, 0.0
                    yield f"event: mailbox\ndata: {json.dumps({'count': version[0]})}\n\n"
                elif quiet >= 15:  # a comment keeps proxies and idle timers from closing it
                    quiet = 0.0
                    yield ": still here\n\n"
                await asyncio.sleep(settings.poll_seconds)
                quiet += settings.poll_seconds

        return StreamingResponse(stream(), media_type="text/event-stream")

    async def message(self, request: Request) -> Response:
        key = request.path_params["key"]
        try:
            msg = await asyncio.to_thread(self.mailbox.read, key)
        except InputError:
            return self.missing(key)
        checks = await asyncio.to_thread(check_message, msg.html, msg.text, msg.headers)
        checks.append(await self.spam_check(key, msg.sent_raw))
        try:
            width = int(request.query_params.get("width", WIDTHS[-1]))
        except ValueError:
            width = WIDTHS[-1]
        raw_text = msg.raw[:RAW_PAGE_LIMIT].decode("utf-8", "replace")
        return self.page(
            "message.html.j2", msg=msg, summary=msg.summary, checks=checks,
            overall=worst([c.verdict for c in checks]), widths=WIDTHS, pending=PENDING,
            width=width if width in WIDTHS else WIDTHS[-1], raw_text=raw_text,
            raw_truncated=len(msg.raw) > RAW_PAGE_LIMIT,
            sender=(msg.header("From") or [""])[0],
        )

    async def message_html(self, request: Request) -> Response:
        """The captured HTML part alone, sandboxed by its own CSP even when opened directly."""
        key = request.path_params["key"]
        try:
            msg = await asyncio.to_thread(self.mailbox.read, key)
        except InputError:
            return PlainTextResponse("No such message (deleted?)", status_code=404)
        headers = {"Content-Security-Policy": CAPTURED_CSP, "Referrer-Policy": "no-referrer"}
        if msg.html is None:
            return PlainTextResponse("This message has no HTML part.", status_code=404,
                                     headers=headers)
        return HTMLResponse(msg.html, headers=headers)

    async def message_raw(self, request: Request) -> Response:
        key = request.path_params["key"]
        try:
            msg = await asyncio.to_thread(self.mailbox.read, key)
        except InputError:
            return PlainTextResponse("No such message (deleted?)", status_code=404)
        return Response(msg.raw, media_type="text/plain; charset=utf-8", headers={
            "Content-Security-Policy": "default-src 'none'; sandbox"})

    async def delete(self, request: Request) -> Response:
        if not _same_origin(request):
            return PlainTextResponse("Refused: the form must come from this page.", 403)
        key = request.path_params["key"]
        try:
            await asyncio.to_thread(self.mailbox.delete, key)
        except InputError:
            return self.missing(key)
        self._spam_tasks.pop(key, None)
        return RedirectResponse("/", status_code=303)

    async def delete_all(self, request: Request) -> Response:
        if not _same_origin(request):
            return PlainTextResponse("Refused: the form must come from this page.", 403)
        await asyncio.to_thread(self.mailbox.delete_all)
        self._spam_tasks.clear()
        return RedirectResponse("/", status_code=303)


def create_app(settings: WebSettings) -> Starlette:
    """The web view as an ASGI app.

    Args:
        settings: the Maildir to show and how.
    Returns:
        A Starlette app; serve it with `serve_web` (or any ASGI server on 127.0.0.1).
    """
    web = SinkWeb(settings)
    routes = [
        Route("/", web.index),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        Route("/api/messages", web.api_messages),
        Route("/events", web.events),
        Route("/api/message/{key}/spamassassin", web.api_spam),
        Route("/message/{key}", web.message),
        Route("/message/{key}/html", web.message_html),
        Route("/message/{key}/raw", web.message_raw),
        Route("/message/{key}/delete", web.delete, methods=["POST"]),
        Route("/delete-all", web.delete_all, methods=["POST"]),
        Mount("/static", StaticFiles(directory=_STATIC), name="static"),
    ]
    return Starlette(routes=routes, middleware=[
        Middleware(SecurityHeaders),
        # Only loopback names: a page elsewhere cannot reach the app by DNS rebinding.
        Middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost"]),
    ])


def bind(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1:port.

    Raises:
        InputError: the port is taken or cannot be bound.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise InputError(f"cannot listen on {HOST}:{port} for the web view: {e}; "
                         "choose another --web-port") from e
    return sock


def serve_web(app: Starlette, sock: socket.socket) -> None:
    """Serve the app on an already bound socket until Ctrl-C or SIGTERM (blocks)."""
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=1)
    uvicorn.Server(config).run(sockets=[sock])
