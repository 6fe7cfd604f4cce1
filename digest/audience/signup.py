"""Signup: the reader-facing routes that take a stranger to a confirmed subscriber.

In: HTTP requests, the config, the token key, a clock, and a `Mail` callable that sends one
notice (given by the composition root; this stage knows no SMTP). Out: pages, rows in the
state database (every request in `signups`, the address in `subscribers`), and at most one
confirmation email per address per `[signup] resend_minutes`.

    GET  /subscribe, /      the hosted form (name, topics, frequency, consent, a signed stamp)
    POST /subscribe         validate; record; mail a confirmation link if the rules allow;
                            always the same "check your inbox" page for a well-formed address
    GET  /confirm?t=…       the choices and a Confirm button (GET and HEAD change nothing)
    POST /confirm?t=…       activate (same-origin only); a welcome email

The answer to a well-formed signup never depends on whether the address was new, pending,
active or suppressed, and the mail goes out after the answer, so neither the page nor its
timing tells who subscribes.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar
from urllib.parse import quote

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from digest.audience import signup_pages as pages
from digest.audience.notices import Mail, Notice, confirm_notice, welcome_notice
from digest.audience.requests import (
    PAGE_HEADERS,
    client_of,
    first,
    guarded,
    network_of,
    plain,
    read_form,
    refuse_cross_site,
)
from digest.audience.subscribers import (
    make_token,
    normalize_address,
    parse_frequency,
    parse_topics,
)
from digest.audience.tokens import (
    ConfirmToken,
    make_confirm_token,
    make_form_stamp,
    read_confirm_token,
    read_form_stamp,
)
from digest.config import Config
from digest.errors import DigestError, SubscriberError
from digest.render.brand import brand_for
from digest.store import Store
from digest.store.signups import Outcome, Signup

log = logging.getLogger(__name__)
T = TypeVar("T")

WEB_LIST = "web"  # the list name in the tokens of readers who signed up on the web
# Suppressions a reader made themselves, which their own confirmed signup undoes; any
# other (a bounce, a complaint, the operator's) keeps the address from being mailed at all.
READER_MADE = ("unsubscribed",)
_MAX_NAME = 200
STAMP_LIFE = timedelta(days=1)  # a page's stamp is good this long; older, the page is sent again


# Providers that ignore dots in the local part: one inbox, many spellings.
_DOTLESS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def mailbox_of(email: str) -> str:
    """What the one-email-per-window limit counts by: the inbox an address reaches, as far as
    its spelling tells. Case, a `+tag` and (at Gmail) dots do not make another inbox, so a
    stranger cannot be mailed once per spelling."""
    local, _, domain = email.rpartition("@")
    local = local.casefold().partition("+")[0] or local.casefold()
    domain = domain.lower()
    if domain in _DOTLESS:
        local, domain = local.replace(".", ""), _DOTLESS[domain]
    return f"{local}@{domain}"


def reader_made(reason: str) -> bool:
    """Whether a suppression's reason is the reader's own unsubscribe."""
    return reason.lower().startswith(READER_MADE)


def signup_routes(config: Config, key: bytes, clock: Callable[[], datetime],
                  mail: Mail) -> list[Route]:
    """The signup routes, for the app's route table.

    Args:
        config: the validated config (newsletter, topics, [signup] limits, database).
        key: the HMAC key that signs confirmation tokens and form stamps.
        clock: "now" for stamps, expiries, limits and the records.
        mail: sends one notice; raises SendError when the server does not take it.
    """
    newsletter = config.newsletter.name
    brand = brand_for(config.newsletter)  # the email's palette and logo, as on every page
    base = config.newsletter.base_url.rstrip("/")
    rules = config.signup
    known = {t.lower(): t for t in config.topics}
    about = rules.about or _about(config.topics)

    def page(html: str, status: int = 200, background: BackgroundTask | None = None) -> Response:
        return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS,
                            background=background)

    def in_store(work: Callable[[Store], T]) -> Awaitable[T]:
        def run() -> T:
            with Store.open(config.database_path) as store:
                return work(store)
        return run_in_threadpool(run)

    def send(make: Callable[[], Notice], signup_id: str | None) -> BackgroundTask:
        """Make and mail the notice after the answer is sent, so neither shows in its time."""
        def deliver() -> None:
            ok = True
            try:
                notice = make()
                mail(notice)
                log.info("%s email sent to %s", notice.kind, notice.to)
            except Exception as e:  # the reader already has their page; the log says why
                ok = False
                log.error("a signup email was not sent: %s", e)
            if signup_id is not None:
                try:
                    with Store.open(config.database_path) as store:
                        store.signup_mailed(signup_id, ok, clock())
                except DigestError as e:
                    log.error("cannot record whether signup %s was mailed: %s", signup_id, e)
        return BackgroundTask(run_in_threadpool, deliver)

    def form_page(status: int = 200, email: str = "", name: str = "",
                  chosen: Sequence[str] = (), frequency: str = "daily",
                  errors: dict[str, str] | None = None) -> Response:
        html = pages.subscribe_page(newsletter, about, rules.consent, "subscribe",
                                    make_form_stamp(key, clock()), config.topics, email=email,
                                    name=name, chosen=chosen, frequency=frequency,
                                    errors=errors, brand=brand)
        return page(html, status)

    async def subscribe_form(request: Request) -> Response:
        return form_page()

    async def subscribe(request: Request) -> Response:
        form = await read_form(request)
        now = clock()
        typed = first(form, "email")
        name = " ".join(first(form, "name").split())
        errors: dict[str, str] = {}
        email = ""
        try:
            email = normalize_address(typed)
        except SubscriberError:
            errors["email"] = ("Enter an email address such as name@example.com." if typed.strip()
                               else "Enter your email address.")
        if len(name) > _MAX_NAME or not name.isprintable():
            errors["name"] = f"Write your name in at most {_MAX_NAME} plain characters."
        topics: tuple[str, ...] = ()
        try:
            topics = parse_topics(form.get("topics", []), known)
        except SubscriberError as e:
            errors["topics"] = f"{str(e).capitalize()}."
        frequency = "daily"
        try:
            frequency = parse_frequency(first(form, "frequency"))
        except SubscriberError:
            errors["frequency"] = "Choose daily or weekly."
        honeypot = first(form, pages.HONEYPOT).strip()
        if errors and not honeypot:
            # The reader's error, said next to the field; what they typed is kept.
            return form_page(400, email=typed, name=first(form, "name"),
                             chosen=[t for t in form.get("topics", []) if t.lower() in known],
                             frequency=first(form, "frequency"), errors=errors)
        answer = pages.check_inbox_page(newsletter, typed.strip()[:254], rules.confirm_hours,
                                        rules.resend_minutes, brand=brand)
        if errors:
            log.info("signup: honeypot filled with an invalid address from %s; ignored",
                     client_of(request))
            return page(answer)
        if not honeypot and _stale(key, first(form, "stamp"), now):
            # A page left open for days: the reader's to send again, nothing about the address.
            return form_page(400, email=typed, name=first(form, "name"),
                             chosen=topics, frequency=frequency, errors={
                                 "email": "This page was open a long time: check your address, "
                                          "then press Subscribe again."})
        outcome, page_name = _form_outcome(request, form, honeypot, key, now,
                                           rules.min_form_seconds, base)
        signup = Signup(
            id=secrets.token_urlsafe(16), email=email, name=name, topics=topics,
            frequency="weekly" if frequency == "weekly" else "daily", created=now,
            client=client_of(request), user_agent=plain(request.headers.get("user-agent", ""),
                                                        500),
            page=page_name, consent=rules.consent, outcome=outcome,
            network=network_of(client_of(request)), mailbox=mailbox_of(email))

        def admit(store: Store) -> Outcome:
            decided = signup
            suppression = store.suppression(email)
            if decided.outcome == "mail" and suppression and not reader_made(suppression.reason):
                decided = dataclasses.replace(signup, outcome="blocked")
            return store.admit_signup(decided, rules.per_ip_per_hour,
                                      timedelta(minutes=rules.resend_minutes),
                                      timedelta(hours=rules.confirm_hours))

        recorded = await in_store(admit)
        if recorded != "mail":
            log.warning("signup of %s from %s: no email (%s)", email, signup.client, recorded)
            return page(answer)
        expires = now + timedelta(hours=rules.confirm_hours)

        def notice() -> Notice:
            token = make_confirm_token(key, signup.id, email, expires)
            return confirm_notice(newsletter, email, topics, signup.frequency,
                                  f"{base}/confirm?t={token}", rules.confirm_hours)

        log.info("signup of %s from %s: confirmation to be mailed", email, signup.client)
        return page(answer, background=send(notice, signup.id))

    async def confirmable(request: Request) -> tuple[str, Signup] | Response:
        """The link's token text and the request it names, or the page saying why not."""
        token_text = request.query_params.get("t", "").strip()
        try:
            token = read_confirm_token(key, token_text)
        except SubscriberError as e:
            raise HTTPException(400, f"{e}. Use the link from the email exactly as it "
                                     "arrived, or sign up again; nothing was changed.") from None
        now = clock()
        signup = await in_store(lambda s: s.signup(token.signup_id))
        trouble = _trouble(signup, token, now)
        if trouble is not None or signup is None:
            title, message = trouble or ("This link is no longer valid", "")
            return page(pages.link_trouble_page(
                newsletter, title, message, "subscribe", make_form_stamp(key, now),
                token.email, signup.topics if signup else (),
                signup.frequency if signup else "daily", brand=brand), 410)
        return token_text, signup

    def confirm_page(token_text: str, signup: Signup, again: bool) -> Response:
        return page(pages.confirm_page(
            newsletter, signup.email, signup.topics, signup.frequency,
            f"confirm?t={quote(token_text)}", make_form_stamp(key, clock()), again=again,
            brand=brand))

    async def confirm_form(request: Request) -> Response:
        """GET (and HEAD): the page with the button; reads, never writes."""
        found = await confirmable(request)
        return found if isinstance(found, Response) else confirm_page(*found, again=False)

    async def confirm(request: Request) -> Response:
        refuse_cross_site(request, base)
        found = await confirmable(request)
        if isinstance(found, Response):
            return found
        token_text, signup = found
        now = clock()
        if not await _pressed(request, key, now, rules.min_form_seconds):
            # Not a person pressing the page's button (no stamp, or at once: a scanner
            # that submits forms): the page again, nothing done.
            return confirm_page(token_text, signup, again=True)

        def activate(store: Store) -> tuple[Signup | None, str]:
            suppression = store.suppression(signup.email)
            lift = suppression is not None and reader_made(suppression.reason)
            done = store.confirm_signup(signup.id, now, lift)
            latest = store.editions(limit=1)
            return done, (f"{base}/archive/{quote(latest[0].id)}" if latest else "")

        done, latest_url = await in_store(activate)
        if done is None:  # confirmed by another request in the meantime
            return page(pages.link_trouble_page(
                newsletter, "This link was already used",
                f"{signup.email} is already confirmed.", brand=brand), 410)
        reader = make_token(key, WEB_LIST, done.email)
        log.info("signup of %s confirmed", done.email)

        def welcome() -> Notice:
            return welcome_notice(newsletter, done.email, done.name, done.topics,
                                  done.frequency, latest_url, f"{base}/preferences?t={reader}",
                                  f"{base}/unsubscribe?t={reader}")

        return page(pages.confirmed_page(newsletter, done.email, f"preferences?t={reader}",
                                         brand=brand),
                    background=send(welcome, None))

    return [
        Route("/", guarded(newsletter, subscribe_form), methods=["GET"]),
        Route("/subscribe", guarded(newsletter, subscribe_form), methods=["GET"]),
        Route("/subscribe", guarded(newsletter, subscribe), methods=["POST"]),
        Route("/confirm", guarded(newsletter, confirm_form), methods=["GET"]),
        Route("/confirm", guarded(newsletter, confirm), methods=["POST"]),
    ]


def _form_outcome(request: Request, form: dict[str, list[str]], honeypot: str, key: bytes,
                  now: datetime, min_seconds: float, base: str) -> tuple[Outcome, str]:
    """What the form itself says of who posted it, and where the form was."""
    origin = plain(request.headers.get("origin") or request.headers.get("referer") or "", 300)
    stamp = first(form, "stamp").strip()
    where = f"hosted form {base}/subscribe" if stamp else \
        f"snippet on {origin or 'an unknown page'}"
    if honeypot:
        return "honeypot", where
    if stamp:
        try:
            served = read_form_stamp(key, stamp)
        except SubscriberError:
            return "forged_form", where
        # A stamp from the future is not ours to trust either.
        if not timedelta(seconds=min_seconds) <= now - served <= STAMP_LIFE:
            return ("too_fast" if now >= served else "forged_form"), where
    return "mail", where


async def _pressed(request: Request, key: bytes, now: datetime, min_seconds: float) -> bool:
    """Whether a POST carries the stamp of a confirm page served long enough ago."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return False
    try:
        served = read_form_stamp(key, first(await read_form(request), "stamp"))
    except SubscriberError:
        return False
    return timedelta(seconds=min_seconds) <= now - served <= STAMP_LIFE


def _stale(key: bytes, stamp: str, now: datetime) -> bool:
    """Whether a genuine stamp is older than a page is kept for."""
    try:
        return now - read_form_stamp(key, stamp.strip()) > STAMP_LIFE
    except SubscriberError:
        return False


def _trouble(signup: Signup | None, token: ConfirmToken,
             now: datetime) -> tuple[str, str] | None:
    """Why a confirmation token cannot confirm (title, message), or None when it can."""
    if signup is None or signup.email != token.email:
        return ("This link is no longer valid",
                "The request it confirmed is gone. Ask for a new link below.")
    if signup.confirmed is not None:
        return ("This link was already used",
                f"{signup.email} was confirmed with it. Need a new link? Ask below.")
    if now > token.expires:
        return ("This link has expired",
                f"Confirmation links work for a limited time. Ask for a new one for "
                f"{signup.email} below.")
    return None


def _about(topics: tuple[str, ...]) -> str:
    on = f" on {', '.join(topics[:-1])} and {topics[-1]}" if len(topics) > 1 else (
        f" on {topics[0]}" if topics else "")
    return (f"The day's featured stories{on}, in one email: every edition, or the week's "
            "best once a week. Free, and one click to leave.")
