"""Reader data: a reader downloads everything digest holds about their address, or deletes it.

In: requests carrying the reader's signed token (the one in every email's preferences link),
the config, the key, a clock. Out: a JSON file, or the address removed from the database
(subscription, requests, choices, suppression; the ledger keeps its counts under a hash) with
a hash kept so no CSV list adds it back. Only a same-origin POST acts; GET shows a page.

    POST /data?t=…      the JSON file
    GET  /delete?t=…    what deleting means, and one button;  POST deletes
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from digest.audience import signup_pages as pages
from digest.audience.requests import PAGE_HEADERS, guarded, refuse_cross_site
from digest.audience.subscribers import read_list, read_token
from digest.config import Config
from digest.errors import SubscriberError
from digest.store import Store
from digest.store.convert import iso

log = logging.getLogger(__name__)
T = TypeVar("T")


def reader_data_routes(config: Config, key: bytes,
                       clock: Callable[[], datetime]) -> list[Route]:
    """The /data and /delete routes, for the app's route table."""
    newsletter = config.newsletter.name
    base = config.newsletter.base_url.rstrip("/")

    def in_store(work: Callable[[Store], T]) -> Awaitable[T]:
        def run() -> T:
            with Store.open(config.database_path) as store:
                return work(store)
        return run_in_threadpool(run)

    def reader(request: Request) -> tuple[str, str]:
        token = request.query_params.get("t", "").strip()
        try:
            _, email = read_token(key, token)
        except SubscriberError as e:
            raise HTTPException(400, f"{e}. Use the link from the newsletter exactly as it "
                                     "arrived; nothing was changed.") from None
        refuse_cross_site(request, base)
        return token, email

    async def data(request: Request) -> Response:
        _, email = reader(request)
        now = clock()

        def gather() -> dict[str, Any]:
            with Store.open(config.database_path) as store:
                held = store.data_of(email)
            return {"address": email, "newsletter": newsletter, "exported": iso(now),
                    **held, "lists": _listed_in(config, email)}

        held = await run_in_threadpool(gather)
        body = json.dumps(held, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        log.info("data of %s downloaded", email)
        return Response(body, media_type="application/json", headers={
            **PAGE_HEADERS, "Content-Disposition": 'attachment; filename="my-data.json"'})

    async def delete_form(request: Request) -> Response:
        """GET (and HEAD): what deleting means, and the button; reads nothing, writes nothing."""
        token, email = reader(request)
        html = pages.delete_page(newsletter, email, f"delete?t={quote(token)}",
                                 f"preferences?t={quote(token)}")
        return HTMLResponse(html, headers=PAGE_HEADERS)

    async def delete(request: Request) -> Response:
        _, email = reader(request)
        now = clock()
        await in_store(lambda s: s.forget(email, now))
        log.info("all data of an address deleted at its owner's request")
        return HTMLResponse(pages.deleted_page(newsletter, email), headers=PAGE_HEADERS)

    return [
        Route("/data", guarded(newsletter, data), methods=["POST"]),
        Route("/delete", guarded(newsletter, delete_form), methods=["GET"]),
        Route("/delete", guarded(newsletter, delete), methods=["POST"]),
    ]


def _listed_in(config: Config, email: str) -> list[str]:
    """The operator's list files that name the address (they are the operator's to edit)."""
    found = []
    for path in config.subscriber_lists:
        try:
            if any(s.email == email for _, s in read_list(path, None, quiet=True)):
                found.append(path.name)
        except SubscriberError:
            continue
    return found
