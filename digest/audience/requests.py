"""Requests: what every reader-facing endpoint of `digest serve` reads from a request.

In: a Starlette request. Out: a bounded urlencoded form, whether a POST came from our own
pages (Origin and Sec-Fetch-Site), the client's address and user agent as plain, bounded text.
Anything wrong in the request is an `HTTPException` with a message for people.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from digest.audience.pages import error_page
from digest.errors import DigestError

log = logging.getLogger(__name__)
Endpoint = Callable[[Request], Awaitable[Response]]

MAX_FORM_BYTES = 16 * 1024
MAX_FORM_FIELDS = 200
# Pages that carry a token or act on an address: no caching, no Referer (it would carry the
# token), no framing (clickjacking the button), forms post only to us.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "form-action 'self'; frame-ancestors 'none'",
}


async def read_form(request: Request) -> dict[str, list[str]]:
    """The urlencoded body as field → values, bounded in size.

    Raises:
        HTTPException: 415 for another kind of body, 413 for one too large.
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise HTTPException(415, "Send the form from the page; nothing was changed.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, "What was sent is too large; nothing was changed.")
    try:
        # Strict: a replaced byte would store an address the reader never typed.
        return parse_qs(body.decode("utf-8"), keep_blank_values=True, errors="strict",
                        max_num_fields=MAX_FORM_FIELDS)
    except UnicodeDecodeError:
        raise HTTPException(400, "The form did not arrive as UTF-8 text; send it again "
                                 "from the page. Nothing was changed.") from None
    except ValueError:  # more fields than any of our forms has
        raise HTTPException(413, "What was sent is too large; nothing was changed.") from None


def first(form: dict[str, list[str]], name: str) -> str:
    """The first value of a field, or "" when it is absent."""
    values = form.get(name)
    return values[0] if values else ""


def same_origin(request: Request, base_url: str) -> bool:
    """Whether a POST came from a page of ours, not from another site's page.

    Browsers send Sec-Fetch-Site with every request, and a page cannot forge it: it decides
    when present. Older browsers send Origin with a POST, but `null` from our pages, whose
    Referrer-Policy is no-referrer, so `null` is refused only where there is nothing better
    to go by. A request with neither is not a browser acting for another site (the token it
    must carry is the check then).
    """
    site = request.headers.get("sec-fetch-site", "").strip().lower()
    if site:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return True
    ours = {_origin(base_url), _origin(str(request.url))}
    return origin.strip().lower() in ours


def refuse_cross_site(request: Request, base_url: str) -> None:
    """Raise 403 for a POST that did not come from our own pages (see `same_origin`)."""
    if request.method == "POST" and not same_origin(request, base_url):
        raise HTTPException(403, "This form can only be sent from our own page; nothing "
                                 "was changed.")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # a Host header with a port that is not a number matches nothing
        return ""
    default = {"http": 80, "https": 443}.get(parts.scheme)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def client_of(request: Request) -> str:
    """The client's address as the server saw it (a proxy's, behind one)."""
    return request.client.host if request.client else "unknown"


def network_of(client: str) -> str:
    """What the per-client limit counts by: an IPv4 address itself, an IPv6 address's /64
    (one host commonly has a whole /64 to pick source addresses from)."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def plain(text: str, limit: int) -> str:
    """Text from a header or a field as one line of printable characters, at most `limit`."""
    return "".join(c if c.isprintable() else " " for c in " ".join(text.split()))[:limit]


def guarded(newsletter: str, endpoint: Endpoint) -> Endpoint:
    """The endpoint, with anything unexpected turned into a 500 page (logged, not shown)."""
    async def run(request: Request) -> Response:
        try:
            return await endpoint(request)
        except HTTPException:
            raise
        except DigestError as e:
            log.error("%s %s: %s", request.method, request.url.path, e)
        except Exception:
            log.exception("%s %s failed", request.method, request.url.path)
        return HTMLResponse(error_page(newsletter, "Something went wrong", "The server could "
                                       "not do that just now. Try again later."),
                            status_code=500, headers=PAGE_HEADERS)
    return run
