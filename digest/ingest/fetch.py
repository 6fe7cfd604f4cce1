"""Fetch: get each feed's bytes, concurrently, politely and within bounds.

In: the feeds, the validators (ETag, Last-Modified) stored from the last fetch, the fetch
settings. Out: one `FetchResult` per feed, in the order given. A failure is a value
(`status="failed"`, `error=...`), never an exception, so one bad feed never stops the others.
Local paths are read from disk, for the sample feeds and for tests.

Bounds, each per feed: one total deadline (a server dripping a byte a second is cut off
like one that hangs), a connect timeout, at most `MAX_REDIRECTS` redirects (http and https
only, a loop is an error), and a size cap counted after decompression: we ask for gzip or
deflate only and inflate the raw stream ourselves in bounded steps, so a gzip bomb stops at
the cap without ever holding more than the cap plus one step in memory.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from digest import HOME_PAGE, __version__
from digest.config import FetchConfig
from digest.ingest.redirects import RedirectRule, Resolver, system_resolver
from digest.model import Feed, FetchResult, Validators

log = logging.getLogger(__name__)

USER_AGENT = f"digest/{__version__} (+{HOME_PAGE})"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
    "application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)  # httpx's is_redirect counts 304 too
MAX_RETRY_AFTER = 86_400.0  # a server asking for more than a day gets a day
INFLATE_STEP = 256 * 1024  # most bytes one decompression step may produce
# An answer we do not use (304, redirect, error) is read to its end when it is this small and
# comes this fast, so its connection serves the feed's next request instead of being closed.
DISCARD_BYTES = 64 * 1024
DISCARD_SECONDS = 0.5
_HINTS = {
    401: "; the feed needs a login, which digest does not do: find a public feed URL",
    403: "; the server refuses us: check the url, or ask the site to allow digest's User-Agent",
    404: "; check the feed's url in config.toml (the site may have moved it)",
    429: "; digest fetches too often for this server: it backs off",
}
# Media types that cannot be a feed: refused before reading the body.
NOT_FEEDS = ("image/", "audio/", "video/", "font/", "application/pdf", "application/zip")


def fetch_feeds(
    feeds: Sequence[Feed],
    validators: Mapping[str, Validators],
    settings: FetchConfig,
    on_result: Callable[[FetchResult], None] | None = None,
    resolve: Resolver | None = None,
) -> list[FetchResult]:
    """Fetch every feed at once, within the limits of `settings`.

    Args:
        feeds: the feeds to fetch.
        validators: per feed URL, the ETag and Last-Modified to send back.
        settings: concurrency, deadlines and the size cap.
        on_result: called with each result as soon as it is complete (so that parsing can
            start while other feeds are still fetched); it must not block.
        resolve: the addresses of a host name, to judge where a redirect points; the
            system's resolver by default.
    Returns:
        One `FetchResult` per feed, in the order of `feeds`.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_fetch_all(feeds, validators, settings, on_result, resolve))
    # Called from inside an event loop (a web app, a test driver): run ours in a thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(
            asyncio.run, _fetch_all(feeds, validators, settings, on_result, resolve)
        ).result()


async def _fetch_all(
    feeds: Sequence[Feed],
    validators: Mapping[str, Validators],
    settings: FetchConfig,
    on_result: Callable[[FetchResult], None] | None,
    resolve: Resolver | None,
) -> list[FetchResult]:
    redirects = RedirectRule(resolve or system_resolver, settings.allow_private_redirects)
    overall = asyncio.Semaphore(settings.concurrency)
    per_host: dict[str, asyncio.Semaphore] = {}
    timeout = httpx.Timeout(settings.timeout_seconds, connect=settings.connect_timeout_seconds)
    # We inflate the body ourselves (bounded), so we only offer what we can inflate.
    headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"}
    limits = httpx.Limits(max_connections=settings.concurrency * 2,
                          max_keepalive_connections=settings.concurrency)
    async with httpx.AsyncClient(
        headers=headers, timeout=timeout, limits=limits, follow_redirects=False
    ) as client:

        async def one(feed: Feed) -> FetchResult:
            # The feed's edge: whatever its fetch raises is this feed's failure, never the
            # run's, so no list of exception types can be incomplete.
            try:
                result = await fetch_one(feed)
            except Exception as e:
                result = _failed(feed, describe_exception(e))
                log.debug("feed %s: fetch raised", feed.url, exc_info=True)
            if on_result is not None:
                try:
                    on_result(result)
                except Exception as e:
                    result = _failed(feed, describe_exception(e))
                    log.debug("feed %s: handing on the result raised", feed.url, exc_info=True)
            return result

        async def fetch_one(feed: Feed) -> FetchResult:
            if not feed.url.startswith(("http://", "https://")):
                return _read_local(feed, settings.max_bytes)
            host = (urlsplit(feed.url).hostname or "").lower()
            host_limit = per_host.setdefault(host, asyncio.Semaphore(settings.per_host))
            async with overall, host_limit:
                try:
                    async with asyncio.timeout(settings.timeout_seconds):
                        return await _get(client, feed, validators.get(feed.url), settings,
                                          redirects)
                except TimeoutError:
                    limit = settings.timeout_seconds
                    return _failed(feed, f"no complete answer within {limit:g} s (the server "
                                   "is too slow or hangs); digest will try again later")

        return list(await asyncio.gather(*(one(f) for f in feeds)))


async def _get(
    client: httpx.AsyncClient, feed: Feed, known: Validators | None, settings: FetchConfig,
    redirects: RedirectRule,
) -> FetchResult:
    request_headers = {}
    if known and known.etag:
        request_headers["If-None-Match"] = known.etag
    if known and known.last_modified:
        request_headers["If-Modified-Since"] = known.last_modified
    url = feed.url
    seen = {url}
    permanent = ""  # where 301/308 answers, and only those, moved the feed
    moved_for_good = True
    try:
        for _ in range(MAX_REDIRECTS + 1):
            async with client.stream("GET", url, headers=request_headers) as response:
                target = response.headers.get("location", "")
                if response.status_code in REDIRECTS and target:
                    try:
                        url = str(response.url.join(target))
                    except httpx.InvalidURL:
                        return _failed(feed, f"redirected to an invalid URL: {target!r}")
                    if urlsplit(url).scheme not in ("http", "https"):
                        return _failed(feed, f"redirected to a non-http(s) URL: {url}")
                    refused = await redirects.refusal(feed.url, url)
                    if refused:
                        return _failed(feed, refused)
                    if url in seen:
                        return _failed(feed, f"redirect loop (back to {url}); tell the "
                                       "site's owner, or fix the feed's url in config.toml")
                    seen.add(url)
                    await _discard(response)
                    moved_for_good = moved_for_good and response.status_code in (301, 308)
                    if moved_for_good:
                        permanent = url
                    continue
                return await _answer(feed, response, url, permanent, settings)
        return _failed(feed, f"more than {MAX_REDIRECTS} redirects (last to {url})")
    except httpx.HTTPError as e:
        return _failed(feed, _describe(e))


async def _answer(
    feed: Feed, response: httpx.Response, url: str, permanent: str, settings: FetchConfig
) -> FetchResult:
    """The result of a final (non-redirect) response."""
    status = response.status_code
    headers = dict(response.headers)
    if not 200 <= status < 300:
        await _discard(response)
    if status == 304:
        return FetchResult(feed=feed, status="not_modified", headers=headers, http_status=304,
                           final_url=url, permanent_url=permanent)
    if status == 410:
        return _failed(feed, "HTTP 410 Gone: the site removed this feed; digest stops fetching "
                       "it. Remove it from config.toml, or give it a new url", status)
    if status >= 400:
        wait = retry_after(response.headers.get("retry-after", ""), datetime.now(UTC))
        asks = f"; the server asks to wait {wait:g} s" if wait is not None else _HINTS.get(
            status, "; a server problem, digest tries again later" if status >= 500 else "")
        return _failed(feed, f"HTTP {status} {response.reason_phrase}{asks}", status, wait)
    if not 200 <= status < 300:
        return _failed(feed, f"unexpected HTTP {status} {response.reason_phrase}", status)
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media.startswith(NOT_FEEDS):
        return _failed(feed, f"the server sends {media}, not a feed; check the feed's url", status)
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    try:
        inflater = _Inflater(encoding, settings.max_bytes)
    except ValueError:
        return _failed(feed, f"the server used Content-Encoding {encoding!r}, which we did not "
                       "ask for", status)
    try:
        async for chunk in response.aiter_raw():
            if not inflater.feed(chunk):
                return _failed(feed, f"larger than the {settings.max_bytes} byte limit "
                               "(fetch.max_bytes), after decompression", status)
        body = inflater.finish()
    except zlib.error as e:
        return _failed(feed, f"the body is not valid {encoding} ({e}); the server's "
                       "Content-Encoding does not match what it sends, tell the site", status)
    return FetchResult(feed=feed, status="ok", body=body, headers=headers, http_status=status,
                       final_url=url, permanent_url=permanent)


async def _discard(response: httpx.Response) -> None:
    """Read an unwanted answer's body to its end if it is small and quick, so that its
    connection goes back to the pool (httpx closes a connection whose answer was not read,
    even a 304's, which has no body). A large or slow body is not waited for: the connection
    is closed instead, and the feed's outcome is the same."""
    length = response.headers.get("content-length", "0" if response.status_code == 304 else "")
    if not length.isdigit() or int(length) > DISCARD_BYTES:
        return
    try:
        async with asyncio.timeout(DISCARD_SECONDS):
            async for _ in response.aiter_raw():
                pass
    except (TimeoutError, httpx.HTTPError):
        pass  # the connection is closed on the way out; nothing of this answer was needed


class _Inflater:
    """Content-Encoding decoding that never produces more than the cap (+ one step)."""

    def __init__(self, encoding: str, cap: int) -> None:
        self._wbits: int | None
        if encoding in ("gzip", "x-gzip"):
            self._wbits = 16 + zlib.MAX_WBITS
        elif encoding == "deflate":
            self._wbits = zlib.MAX_WBITS
        elif encoding in ("identity", ""):
            self._wbits = None
        else:
            raise ValueError(encoding)
        self._raw_deflate = False
        self._encoding = encoding
        self._d = zlib.decompressobj(self._wbits) if self._wbits is not None else None
        self._cap = cap
        self.body = bytearray()

    def feed(self, chunk: bytes) -> bool:
        """Add raw bytes; False once the decoded body is past the cap."""
        if self._d is None:
            self.body += chunk
            return len(self.body) <= self._cap
        data = chunk
        while data:
            try:
                self.body += self._d.decompress(data, INFLATE_STEP)
            except zlib.error:
                if self._encoding != "deflate" or self._raw_deflate or self.body:
                    raise
                # Some servers send raw deflate without the zlib header.
                self._raw_deflate = True
                self._d = zlib.decompressobj(-zlib.MAX_WBITS)
                continue
            if len(self.body) > self._cap:
                return False
            data = self._d.unconsumed_tail
            tail = self._d.unused_data if self._d.eof else b""
            if not data and tail and self._wbits is not None and not self._raw_deflate:
                data = tail  # another gzip member follows
                self._d = zlib.decompressobj(self._wbits)
        return True

    def finish(self) -> bytes:
        if self._d is not None:
            self.body += self._d.flush()
            if not self._d.eof:
                raise zlib.error("the compressed stream ends before its end marker")
        return bytes(self.body[: self._cap])


def next_attempt(
    failures: int, retry_after_seconds: float | None, now: datetime, backoff_seconds: float
) -> datetime | None:
    """When a feed may be fetched again, or None for "at the next run".

    Args:
        failures: failed fetches in a row, this one included (0 after a success).
        retry_after_seconds: what the server asked for (429/503 Retry-After), if anything.
        now: the time of this fetch.
        backoff_seconds: the wait after the second failure in a row; it doubles with each
            further failure, up to a day. One failure alone costs no wait: it may be a blip.
    Returns:
        The earliest moment of the next fetch, or None.
    """
    wait = 0.0
    if failures >= 2:
        wait = min(backoff_seconds * 2.0 ** min(failures - 2, 32), MAX_RETRY_AFTER)
    if retry_after_seconds is not None:
        wait = max(wait, min(retry_after_seconds, MAX_RETRY_AFTER))
    return now + timedelta(seconds=wait) if wait > 0 else None


def retry_after(value: str, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), capped at a day."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - now).total_seconds(), 0.0), MAX_RETRY_AFTER)


def _describe(error: httpx.HTTPError) -> str:
    text = str(error) or type(error).__name__
    if isinstance(error, httpx.ConnectTimeout):
        return "connection timed out (fetch.connect_timeout_seconds); the host may be down"
    if isinstance(error, httpx.TimeoutException):
        return "timed out waiting for the server"
    if isinstance(error, httpx.ConnectError):
        causes = _causes(error)
        if any(isinstance(c, socket.gaierror) for c in causes) or "name resolution" in text:
            return "cannot resolve the host name (DNS); check the feed's url"
        if any(isinstance(c, ConnectionRefusedError) for c in causes) or "refused" in text:
            return "connection refused; the server is down or the port is wrong"
        if any(isinstance(c, ssl.SSLError) for c in causes):
            return f"TLS failed ({text}); the site's certificate or TLS setup is broken"
        return f"cannot connect ({text})"
    if isinstance(error, httpx.RemoteProtocolError):
        return f"the server broke the HTTP protocol ({text})"
    return f"{type(error).__name__}: {text}"


def describe_exception(error: BaseException) -> str:
    """One line for an exception nobody foresaw: its class and its message."""
    text = " ".join(str(error).split())
    if len(text) > 300:  # a message may quote the hostile input itself
        text = text[:299] + "…"
    # Half a surrogate pair (from a feed's JSON) would stop the database and the logs.
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _causes(error: BaseException) -> list[BaseException]:
    """The exception and everything it was raised from, and what those grouped."""
    found: list[BaseException] = []
    pending: list[BaseException] = [error]
    while pending and len(found) < 50:
        e = pending.pop()
        found.append(e)
        pending += [c for c in (e.__cause__, e.__context__) if c is not None and c not in found]
        if isinstance(e, BaseExceptionGroup):
            pending += list(e.exceptions)
        if isinstance(e, OSError) and e.args and isinstance(e.args[0], BaseException):
            pending.append(e.args[0])
    return found


def _read_local(feed: Feed, max_bytes: int) -> FetchResult:
    path = Path(feed.url)
    try:
        with path.open("rb") as f:
            body = f.read(max_bytes + 1)
    except OSError as e:
        return _failed(feed, f"cannot read {path}: {e.strerror}")
    if len(body) > max_bytes:
        return _failed(feed, f"larger than the {max_bytes} byte limit (fetch.max_bytes)")
    return FetchResult(feed=feed, status="ok", body=body, final_url=path.as_uri())


def _failed(
    feed: Feed, reason: str, http_status: int | None = None, retry_after: float | None = None
) -> FetchResult:
    log.warning("feed %s (%s) failed: %s", feed.name, feed.url, reason)
    return FetchResult(feed=feed, status="failed", http_status=http_status, error=reason,
                       retry_after_seconds=retry_after)
