"""Fetch: get each feed's bytes, concurrently, politely and within bounds.

In: the feeds, the validators (ETag, Last-Modified) stored from the last fetch, the fetch
settings. Out: one `FetchResult` per feed, in the order given. A failure is a value
(`status="failed"`, `error=...`), never an exception, so one bad feed never stops the others.
Local paths are read from disk, for the sample feeds and for tests.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from digest import HOME_PAGE, __version__
from digest.config import FetchConfig
from digest.model import Feed, FetchResult, Validators

log = logging.getLogger(__name__)

USER_AGENT = f"digest/{__version__} (+{HOME_PAGE})"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
MAX_REDIRECTS = 5


def fetch_feeds(
    feeds: Sequence[Feed],
    validators: Mapping[str, Validators],
    settings: FetchConfig,
) -> list[FetchResult]:
    """Fetch every feed at once, within the limits of `settings`.

    Args:
        feeds: the feeds to fetch.
        validators: per feed URL, the ETag and Last-Modified to send back.
        settings: concurrency, deadlines and the size cap.
    Returns:
        One `FetchResult` per feed, in the order of `feeds`.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_fetch_all(feeds, validators, settings))
    # Called from inside an event loop (a web app, a test driver): run ours in a thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _fetch_all(feeds, validators, settings)).result()


async def _fetch_all(
    feeds: Sequence[Feed], validators: Mapping[str, Validators], settings: FetchConfig
) -> list[FetchResult]:
    overall = asyncio.Semaphore(settings.concurrency)
    per_host: dict[str, asyncio.Semaphore] = {}
    timeout = httpx.Timeout(settings.timeout_seconds, connect=settings.connect_timeout_seconds)
    headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT}
    limits = httpx.Limits(max_connections=settings.concurrency * 2)
    async with httpx.AsyncClient(
        headers=headers, timeout=timeout, limits=limits, follow_redirects=False
    ) as client:

        async def one(feed: Feed) -> FetchResult:
            if not feed.url.startswith(("http://", "https://")):
                return _read_local(feed, settings.max_bytes)
            host = (urlsplit(feed.url).hostname or "").lower()
            host_limit = per_host.setdefault(host, asyncio.Semaphore(settings.per_host))
            async with overall, host_limit:
                try:
                    async with asyncio.timeout(settings.timeout_seconds):
                        return await _get(client, feed, validators.get(feed.url), settings)
                except TimeoutError:
                    limit = settings.timeout_seconds
                    return _failed(feed, f"no complete answer within {limit:g} s")

        return list(await asyncio.gather(*(one(f) for f in feeds)))


async def _get(
    client: httpx.AsyncClient, feed: Feed, known: Validators | None, settings: FetchConfig
) -> FetchResult:
    request_headers = {}
    if known and known.etag:
        request_headers["If-None-Match"] = known.etag
    if known and known.last_modified:
        request_headers["If-Modified-Since"] = known.last_modified
    url = feed.url
    try:
        for _ in range(MAX_REDIRECTS + 1):
            async with client.stream("GET", url, headers=request_headers) as response:
                if response.is_redirect:
                    target = response.headers.get("location", "")
                    url = str(response.url.join(target))
                    if urlsplit(url).scheme not in ("http", "https"):
                        return _failed(feed, f"redirected to a non-http(s) URL: {url}")
                    continue
                if response.status_code == 304:
                    return FetchResult(
                        feed=feed, status="not_modified", headers=dict(response.headers),
                        http_status=304, final_url=url,
                    )
                if response.status_code >= 400:
                    return _failed(feed, f"HTTP {response.status_code} {response.reason_phrase}",
                                   response.status_code)
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > settings.max_bytes:
                        return _failed(feed, f"larger than the {settings.max_bytes} byte limit")
                return FetchResult(
                    feed=feed, status="ok", body=bytes(body), headers=dict(response.headers),
                    http_status=response.status_code, final_url=url,
                )
        return _failed(feed, f"more than {MAX_REDIRECTS} redirects")
    except httpx.HTTPError as e:
        return _failed(feed, _describe(e))


def _describe(error: httpx.HTTPError) -> str:
    if isinstance(error, httpx.ConnectTimeout):
        return "connection timed out"
    if isinstance(error, httpx.TimeoutException):
        return "timed out waiting for the server"
    if isinstance(error, httpx.ConnectError):
        return f"cannot connect ({error})"
    return f"{type(error).__name__}: {error}"


def _read_local(feed: Feed, max_bytes: int) -> FetchResult:
    path = Path(feed.url)
    try:
        with path.open("rb") as f:
            body = f.read(max_bytes + 1)
    except OSError as e:
        return _failed(feed, f"cannot read {path}: {e.strerror}")
    if len(body) > max_bytes:
        return _failed(feed, f"larger than the {max_bytes} byte limit")
    return FetchResult(feed=feed, status="ok", body=body, final_url=path.as_uri())


def _failed(feed: Feed, reason: str, http_status: int | None = None) -> FetchResult:
    log.warning("feed %s (%s) failed: %s", feed.name, feed.url, reason)
    return FetchResult(feed=feed, status="failed", http_status=http_status, error=reason)
