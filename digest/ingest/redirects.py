"""Redirects: where a feed's server may send the fetcher, and where it may not.

In: the feed's URL as the operator wrote it (or as a permitted 301 moved it), a redirect's
target, a resolver. Out: None when the redirect may be followed, else the one-line reason
it is refused.

The rule: a redirect to another host whose addresses are not all public (loopback, private,
link-local and cloud metadata, unique-local IPv6, carrier-grade NAT, unspecified...) is
refused. A server on the internet must not be able to point digest at the machine it runs on
or the network behind it (an admin page, a metadata service). The operator's own URLs are
trusted as written, and a redirect within the same host is always followed, so an intranet
feed at 10.0.0.5 that moves a path keeps working. `[fetch] allow_private_redirects = true`
lifts the rule.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

_HOST_NAME = re.compile(r"[a-z0-9_](?:[a-z0-9_.-]{0,252}[a-z0-9_.])?")
# The addresses a host name resolves to (IPv4 or IPv6 text); raises OSError when it cannot.
Resolver = Callable[[str], Awaitable[Sequence[str]]]


async def system_resolver(host: str) -> Sequence[str]:
    """The host's addresses from the system's resolver (as the HTTP client would get them)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class RedirectRule:
    """Judges each redirect of a fetch (see the module's docstring)."""

    def __init__(self, resolve: Resolver, allow_private: bool) -> None:
        self._resolve = resolve
        self._allow_private = allow_private

    async def refusal(self, configured: str, target: str) -> str | None:
        """Why the redirect from the feed at `configured` to `target` is refused, or None."""
        if self._allow_private:
            return None
        host = (urlsplit(target).hostname or "").lower()
        if host == (urlsplit(configured).hostname or "").lower():
            return None
        if not _is_address(host) and not _HOST_NAME.fullmatch(host):
            return f"redirected to {_short(target)}, whose host name is not valid"
        try:
            addresses = [host] if _is_address(host) else list(await self._resolve(host))
        except (OSError, UnicodeError, ValueError):
            return (f"redirected to {_short(target)}, whose host {host!r} does not resolve; "
                    "check the feed's url in config.toml")
        private = [a for a in addresses if not _public(a)]
        if private or not addresses:
            where = private[0] if private else "no address"
            return (f"redirected to {_short(target)}, which is {where}, not a public address; "
                    "refused so a feed cannot reach this machine or its network. If that is "
                    "where the feed lives, put that URL in config.toml (or set "
                    "[fetch] allow_private_redirects = true)")
        return None


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _public(address: str) -> bool:
    """Whether an address is on the public internet (not loopback, private, link-local,
    metadata, multicast, reserved or unspecified; IPv4 inside IPv6 judged as IPv4)."""
    try:
        ip = ipaddress.ip_address(address.partition("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _short(url: str) -> str:
    return url if len(url) <= 200 else url[:199] + "…"
