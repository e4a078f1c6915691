"""The web pages (SPEC section 10), served by the API process itself: `/` the network,
`/providers/{address}` where a provider stands, `/operator` what needs a decision now.

Server-rendered (Jinja2) from the same read model as the JSON API, so every fact reads without
JavaScript; `static/live.js` (no framework, no CDN) ticks the countdowns, follows `GET /v1/stream`
and re-renders the page's `<main>` when something changed, and offers the Claim button when the
browser has an injected wallet. A strict Content-Security-Policy allows nothing from elsewhere."""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from typing import Any

from eth_utils import keccak
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import Engine, select

from staking.db import schema as t
from staking.db.stream import newest_id
from staking.domain.ids import InvalidAddress, normalize_address
from staking.policy import Policy
from staking.readmodel import provider_events, snapshot, standing_from_parts
from staking.readmodel.network import network_overview
from staking.readmodel.operator import operator_document
from staking.readmodel.provider_rewards import provider_rewards
from staking.readmodel.queries import fetch_parts
from staking.web import commands
from staking.web import format as fmt
from staking.web.operator_auth import install_operator_session, operator_allowed
from staking.web.provider_view import provider_view

STATIC_URL = "/static/pages"
CLAIM_SELECTOR = "0x" + keccak(text="claim(uint64,uint256,bytes32[])")[:4].hex()
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def environment() -> Environment:
    """The pages' templates with the filters of `staking.web.format`; autoescaped."""
    env = Environment(
        loader=FileSystemLoader(str(files("staking.web") / "templates")),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,  # a missing field is an error in the tests, not an empty cell
    )
    env.filters.update(
        tokens=fmt.tokens,
        base_units=fmt.base_units,
        when=fmt.when,
        when_ms=fmt.when_ms,
        duration=fmt.duration,
        short=fmt.short,
        words=fmt.words,
    )
    env.globals.update(static=STATIC_URL)
    return env


# What base.html reads that not every page sets.
PAGE_DEFAULTS = {"stream": None, "stream_after": None, "now_at": None, "refresh": None, "active": None}


def render(env: Environment, name: str, **context: Any) -> str:
    return env.get_template(name).render({**PAGE_DEFAULTS, **context})


def install_pages(
    app: FastAPI,
    engine: Engine,
    policy: Policy,
    clock: Callable[[], float],
    head: Callable[[], int | None],
    caps: Callable[[], tuple[Any, str | None]] | None = None,
) -> None:
    """Mount the pages' assets and add the three pages (and the operator's sign-in) to `app`;
    `caps`: the contract's caps and their use (`staking.api.network.LiveCaps.current`)."""
    app.mount(STATIC_URL, StaticFiles(directory=str(files("staking.web") / "static")), name="page-assets")
    app.include_router(pages_router(engine, policy, clock, head, caps))
    install_operator_session(app)


def pages_router(
    engine: Engine,
    policy: Policy,
    clock: Callable[[], float],
    head: Callable[[], int | None],
    caps: Callable[[], tuple[Any, str | None]] | None = None,
) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    env = environment()

    def page(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
        response = HTMLResponse(render(env, name, request=request, **context), status_code=status_code)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    def not_an_address(request: Request, given: str) -> Response:
        message = f"“{given[:80]}” is not an address (0x and 40 hex digits)."
        return page(request, "not_found.html", 400, message=message)

    @router.get("/", response_class=HTMLResponse)
    def network(request: Request) -> Response:
        with snapshot(engine) as conn:
            overview = network_overview(conn, int(clock()))
            after = newest_id(conn)
        return page(
            request, "network.html", o=overview, now_at=overview["at"], active="network",
            stream="/v1/stream", stream_after=after, refresh=60,
        )  # fmt: skip

    @router.get("/providers", response_class=HTMLResponse)
    def find(request: Request, address: str = "") -> Response:
        """The search box: a well-formed address goes to its page, anything else back with why."""
        try:
            addr = normalize_address(address.strip())
        except InvalidAddress:
            return not_an_address(request, address)
        return RedirectResponse(f"/providers/{addr}", status_code=303)

    @router.get("/providers/{address}", response_class=HTMLResponse)
    def provider(request: Request, address: str) -> Response:
        try:
            addr = normalize_address(address)
        except InvalidAddress:
            return not_an_address(request, address)
        now = int(clock())
        with snapshot(engine) as conn:
            parts = fetch_parts(conn, addr, now, policy)
            doc = standing_from_parts(parts, addr, now, policy, head())
            events = provider_events(conn, addr, 50)["items"]
            rewards = provider_rewards(conn, addr)
            staking = conn.execute(select(t.meta.c.value).where(t.meta.c.key == "staking_address")).scalar()
            ids = [s["id"] for s in doc["pending_slashes"]]
            v = t.verdicts.c
            evidence = {
                r.id: r.evidence_uri for r in conn.execute(select(v.id, v.evidence_uri).where(v.id.in_(ids)))
            }
            after = newest_id(conn)
        at = max(now, doc["as_of"]["timestamp"] or 0)  # as the document was evaluated
        view = provider_view(doc, policy, parts.strikes, at)
        return page(
            request,
            "provider.html",
            v=view,
            d=doc,
            events=events,
            rewards=rewards,
            now_at=at,
            evidence=evidence,
            staking=staking,
            claim_selector=CLAIM_SELECTOR,
            stream=f"/v1/stream?provider={addr}",
            stream_after=after,
        )

    @router.get("/operator", response_class=HTMLResponse)
    def operator(request: Request) -> Response:
        if not operator_allowed(request):
            return page(request, "sign_in.html", 401, active="operator")
        live, why = caps() if caps is not None else (None, "no chain configured")
        with snapshot(engine) as conn:
            doc = operator_document(conn, int(clock()), head(), live, why)
            after = newest_id(conn)
        return page(
            request, "operator.html", o=doc, cmd=commands, now_at=doc["at"], active="operator",
            stream="/v1/stream", stream_after=after, refresh=15,
        )  # fmt: skip

    return router
