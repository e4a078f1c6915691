"""The HTTP API (SPEC section 4). Verdict intake, investigations and operations (`/healthz`,
`/readyz`, `/metrics`) live here, the provider endpoints in `staking.api.providers`; other routers
plug in through `create_app(..., routers=[...])`.

Every error is `application/problem+json` (see `staking.api.problems`). Every response carries an
`X-Request-ID` (the caller's, or one made here) that is also in every log line of the request, and
every request is timed into `swarm_http_request_duration_seconds`. Body size and JSON depth limits,
rate limits, the admin token and CORS are `staking.api.security`'s (threat model: SECURITY.md).
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

import requests
from fastapi import APIRouter, FastAPI, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import Histogram
from pydantic import BaseModel, Field
from sqlalchemy import Engine, distinct, func, select
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import staking
from staking.api.problems import (
    PROBLEM_TYPES,
    Problem,
    ProblemException,
    install_problem_handlers,
    problem,
    problem_openapi,
    problem_response,
    problem_responses,
)
from staking.api.providers import EventTypeName, SeverityName, providers_router
from staking.api.security import (
    RequestLimits,
    SecurityOptions,
    admin_route,
    document_security,
    install_cors,
    install_rate_limit_handler,
    signer_limiter,
)
from staking.db import schema as t
from staking.domain.errors import NodeUnreachable
from staking.domain.ids import ADDRESS_PATTERN, ID_PATTERN
from staking.intake.performance import PerformanceIntake
from staking.intake.service import IntakeService
from staking.logs import request_id
from staking.metrics import CONTENT_TYPE, metrics_registry, render, request_latency
from staking.readmodel import snapshot
from staking.worker.drift import META_BLOCK, META_CHECKED_MS

if TYPE_CHECKING:
    from staking.config import Settings

log = logging.getLogger("staking.api")

MAX_BODY = 16 * 1024  # default limit; a verdict is < 3 KiB; anything near this is not one
RETRY_AFTER_S = 5
DRIFT_NAMED = 10  # providers named by a degraded /readyz

EXAMPLE_ID = "0x5f1d3c6a2b0e4f8a9c7d6e5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a392817"
EXAMPLE_PROVIDER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"

# ------------------------------------------------------------------------------------------ models
# The response models document the wire format; the service builds plain dicts of the same shape.


class VerdictSubmission(BaseModel):
    """The body of `POST /v1/verdicts` (SPEC section 3). Read and checked by the intake itself, so
    every bad field is reported at once; this model documents it."""

    id: str = Field(pattern=ID_PATTERN, description="bytes32, also the on-chain slash id")
    provider: str = Field(
        pattern=ADDRESS_PATTERN, description="Provider address; mixed case must be valid EIP-55"
    )
    event_type: EventTypeName
    severity: SeverityName
    detected_at: int = Field(
        gt=0, description="Unix seconds; not in the future, not older than the contract's maxVerdictAge"
    )
    evidence_hash: str = Field(pattern=ID_PATTERN)
    evidence_uri: str | None = Field(default=None, max_length=2048, description="Not signed")
    signature: str = Field(
        pattern=r"^0x[0-9a-fA-F]{130}$",
        description="EIP-712 signature (r, s, v; v 27/28, low s) by an account holding DETECTOR_ROLE",
    )

    model_config = {
        "extra": "forbid",
        "json_schema_extra": {
            "examples": [
                {
                    "id": EXAMPLE_ID,
                    "provider": EXAMPLE_PROVIDER,
                    "event_type": "security_breach",
                    "severity": "critical",
                    "detected_at": 1795000000,
                    "evidence_hash": "0x" + "ab" * 32,
                    "evidence_uri": "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
                    "signature": "0x" + "11" * 64 + "1b",
                }
            ]
        },
    }


class DecisionModel(BaseModel):
    level: Literal["none", "warning", "penalty", "severe"]
    offence_number: int = Field(description="Position in the provider's rolling window (0: not an offence)")
    recovery_path: Literal["service_improvement", "security_review", "compliance_verification"] | None
    slash_bps: int = Field(ge=0, le=10_000)
    jail_seconds: int | None = Field(description="null: no jail; 0: until recovery; > 0: timed jail")
    jail_until_recovery: bool


class ActionModel(BaseModel):
    kind: Literal[
        "warn", "jail", "propose_slash", "begin_recovery", "open_investigation", "propose_tombstone"
    ]
    state: Literal["pending", "submitted", "confirmed", "failed", "skipped"]
    tx_hash: str | None
    block: int | None
    deadline_at: str | None = Field(description="ISO-8601 UTC: detection time + the response deadline")
    confirmed_at: str | None
    note: str | None = Field(default=None, description="why an action was skipped or failed, or what it did")


class VerdictResource(BaseModel):
    id: str
    status: Literal["received", "executing", "done", "rejected", "failed"]
    provider: str
    event_type: EventTypeName
    severity: SeverityName
    detected_at: int
    evidence_hash: str
    evidence_uri: str | None
    signer: str
    decision: DecisionModel
    actions: list[ActionModel] = Field(description="In the order they go out: isolation first")
    deadline_at: str | None
    received_at: str | None
    updated_at: str | None


class Investigation(BaseModel):
    id: int
    verdict_id: str
    provider: str
    status: Literal["open", "resolved"]
    event_type: EventTypeName
    severity: SeverityName
    detected_at: int
    evidence_hash: str
    evidence_uri: str | None
    opened_at: str | None
    resolved_at: str | None
    resolution: str | None
    resolved_by: str | None
    verdict: str = Field(description="Link to the verdict resource")


class InvestigationPage(BaseModel):
    items: list[Investigation]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last")


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class Readiness(BaseModel):
    status: Literal["ready"]
    checks: dict[str, dict[str, Any]] = Field(
        description="database, chain, indexer and drift: each with `status` (ok, failed, skipped, "
        "unknown; drift: degraded when the projection differs from the contract) and what was measured"
    )


EXAMPLE_RESOURCE: dict[str, Any] = {
    "id": EXAMPLE_ID,
    "status": "received",
    "provider": EXAMPLE_PROVIDER,
    "event_type": "security_breach",
    "severity": "critical",
    "detected_at": 1795000000,
    "evidence_hash": "0x" + "ab" * 32,
    "evidence_uri": None,
    "signer": "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "decision": {
        "level": "severe",
        "offence_number": 1,
        "recovery_path": "security_review",
        "slash_bps": 2000,
        "jail_seconds": 0,
        "jail_until_recovery": True,
    },
    "actions": [
        {
            "kind": kind,
            "state": "pending",
            "tx_hash": None,
            "block": None,
            "deadline_at": "2026-11-18T07:07:20.000Z",
            "confirmed_at": None,
        }
        for kind in ("jail", "propose_slash", "begin_recovery", "propose_tombstone")
    ],
    "deadline_at": "2026-11-18T07:07:20.000Z",
    "received_at": "2026-11-18T07:06:21.412Z",
    "updated_at": "2026-11-18T07:06:21.412Z",
}

PROBLEM_EXAMPLES: dict[int, dict[str, Any]] = {
    401: {
        "type": "/problems/signer-not-detector",
        "title": "Signer is not a detector",
        "status": 401,
        "detail": "the signature recovers to 0x70997970C51812dc3A010C7d01b50e0d17dc79C8, "
        "which does not hold DETECTOR_ROLE (...)",
        "signer": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    },
    409: {
        "type": "/problems/verdict-conflict",
        "title": "Verdict id already used",
        "status": 409,
        "detail": f"verdict {EXAMPLE_ID} was already submitted with different content; ...",
        "verdict": f"/v1/verdicts/{EXAMPLE_ID}",
    },
    413: {
        "type": "/problems/body-too-large",
        "title": "Request body too large",
        "status": 413,
        "detail": f"the body exceeds {MAX_BODY} bytes",
    },
    422: {
        "type": "/problems/invalid-verdict",
        "title": "Malformed verdict",
        "status": 422,
        "detail": "1 field(s) are invalid: event_type: unknown EventType 'meteor_strike'; ...",
        "errors": [
            {"field": "event_type", "message": "unknown EventType 'meteor_strike'; expected one of: ..."}
        ],
    },
    503: {
        "type": "/problems/detector-check-unavailable",
        "title": "Cannot verify the signer now",
        "status": 503,
        "detail": "0x... is not among the indexed detectors and the chain could not be asked; retry shortly",
    },
}


# ---------------------------------------------------------------------------------------- the app
async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The raw body, refusing (413) anything over `limit` bytes before reading it all."""
    too_large = ProblemException(413, "body-too-large", f"the body exceeds {limit} bytes")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def intake_router(intake: IntakeService) -> APIRouter:
    router = APIRouter(tags=["verdicts"])

    @router.post(
        "/v1/verdicts",
        status_code=202,
        response_model=None,
        summary="Submit a signed verdict",
        description=(
            "Authenticates the detector's EIP-712 signature, decides the consequences with the "
            "slashing policy and records the verdict with its action plan. Idempotent by `id`: the "
            "same verdict again answers 200 with the same resource; other content under a used id "
            "is 409. Nothing is stored for a rejected verdict. Bodies over the configured limit "
            "(SWARM_MAX_VERDICT_BODY_BYTES, default 16 KiB) are refused (413), JSON nested deeper "
            "than SWARM_MAX_JSON_DEPTH (32) is 422; a detector over its rate limit gets 429."
        ),
        responses={
            202: {
                "model": VerdictResource,
                "description": "New verdict accepted; its actions are pending (see Location)",
                "content": {"application/json": {"example": EXAMPLE_RESOURCE}},
            },
            200: {
                "model": VerdictResource,
                "description": "This exact verdict was accepted before: the same resource",
                "content": {"application/json": {"example": EXAMPLE_RESOURCE}},
            },
            **problem_responses(401, 409, 413, 422, 503, examples=PROBLEM_EXAMPLES),
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": VerdictSubmission.model_json_schema()}},
            }
        },
    )
    async def submit_verdict(request: Request) -> Response:
        options: SecurityOptions | None = getattr(request.app.state, "security", None)
        raw = await read_body(request, options.body_limit("/v1/verdicts") if options else MAX_BODY)
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            error = {"field": "body", "message": f"not valid JSON ({exc})"}
            raise ProblemException(
                422, "invalid-verdict", "the body is not a JSON document", errors=[error]
            ) from None
        status, doc = await run_in_threadpool(intake.submit, body)
        if status >= 400:
            headers = {}
            if status == 401:
                headers["WWW-Authenticate"] = 'EIP712 realm="SwarmRiskFramework"'
            elif status == 503:
                headers["Retry-After"] = str(RETRY_AFTER_S)
            return problem_response(doc, headers)
        location = f"/v1/verdicts/{doc['id']}"
        headers = {"Location": location} if status == 202 else {"Content-Location": location}
        return JSONResponse(doc, status_code=status, headers=headers)

    @router.get(
        "/v1/verdicts/{verdict_id}",
        response_model=VerdictResource,
        summary="A verdict, its decision and the state of its actions",
        responses=problem_responses(404, 422),
    )
    def get_verdict(
        verdict_id: Annotated[str, Path(pattern=ID_PATTERN, examples=[EXAMPLE_ID])],
    ) -> dict[str, Any]:
        resource = intake.get(verdict_id)
        if resource is None:
            raise ProblemException(404, None, f"no verdict {verdict_id.lower()}")
        return resource

    @router.get(
        "/v1/investigations",
        response_model=InvestigationPage,
        tags=["investigations"],
        summary="Investigations opened for suspicious activity, newest first",
        description="Security-team data: needs the admin bearer token when SWARM_ADMIN_TOKEN is set.",
        responses=problem_responses(422),
        **admin_route(),
    )
    def list_investigations(
        status: Annotated[Literal["open", "resolved"] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: Annotated[
            str | None, Query(max_length=200, description="`next_cursor` of the last page")
        ] = None,
    ) -> dict[str, Any]:
        try:
            return intake.list_investigations(status=status, limit=limit, cursor=cursor)
        except ValueError as exc:
            error = {"field": "cursor", "in": "query", "message": str(exc)}
            raise ProblemException(422, "invalid-request", str(exc), errors=[error]) from None

    return router


# ------------------------------------------------------------------------------------ operations
access_log = logging.getLogger("staking.api.access")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=@-]{1,128}$")  # anything else is replaced, not logged
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})  # probes and scrapes log at DEBUG


class RequestContext:
    """ASGI middleware: the request id (the caller's `X-Request-ID` if it is a sane token, else a
    new one) in the `request_id` contextvar for the log lines of the request and in the response
    header; the request's latency into `latency` by route template; one access log line."""

    def __init__(self, app: ASGIApp, latency: Histogram) -> None:
        self.app = app
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        rid = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        # Not reset afterwards: each request runs in its own task (its own context), and the 500
        # handler, which runs after this middleware has unwound, must still see the id.
        request_id.set(rid)
        started = time.perf_counter()
        status = 500  # unless a response starts: an exception escaped to the 500 handler

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.latency.labels(scope["method"], route, str(status)).observe(elapsed)
            access_log.log(
                logging.DEBUG if route in QUIET_ROUTES else logging.INFO,
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )


class ChainProbe:
    """The chain head for readiness: one cheap `fetch` (eth_blockNumber) at most every `ttl`
    seconds — failures are remembered as long — so probes and scrapes never pile up RPCs."""

    def __init__(self, fetch: Callable[[], int], ttl: float = 1.0) -> None:
        self.fetch, self.ttl = fetch, ttl
        self._lock = threading.Lock()
        self._checked = -math.inf
        self._head: int | None = None
        self._head_at = -math.inf
        self._error: str | None = None

    def head(self) -> int:
        """The chain head; NodeUnreachable (with the reason) when the node does not answer."""
        with self._lock:
            if time.monotonic() - self._checked >= self.ttl:
                try:
                    self._head, self._error = self.fetch(), None
                    self._head_at = time.monotonic()
                except requests.RequestException as exc:  # its text may carry the URL (and a key)
                    self._error = type(exc).__name__
                except Exception as exc:
                    self._error = f"{type(exc).__name__}: {exc}"[:300]
                self._checked = time.monotonic()
            if self._error is not None:
                raise NodeUnreachable(self._error)
            assert self._head is not None
            return self._head

    def recent(self, max_age: float = 5.0) -> int | None:
        """The head seen in the last `max_age` seconds, without asking the node (None if none)."""
        fresh = time.monotonic() - self._head_at <= max_age
        return self._head if fresh and self._error is None else None


def rpc_head(rpc_url: str, timeout: float = 2.0) -> Callable[[], int]:
    """`eth_blockNumber` against `rpc_url` with a short timeout (a readiness check must not hang)."""
    session = requests.Session()

    def fetch() -> int:
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}
        response = session.post(rpc_url, json=body, timeout=timeout)
        response.raise_for_status()
        answer = response.json()
        if "error" in answer:
            raise RuntimeError(f"eth_blockNumber: {answer['error']}")
        return int(answer["result"], 16)

    return fetch


def readiness(
    engine: Engine, chain: ChainProbe | None, max_lag: int, confirmations: int
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """(checks, failures) for `/readyz`: the database answers, the chain answers, and the indexer
    is at most `max_lag` blocks (beyond the `confirmations` it keeps back on purpose) behind."""
    checks: dict[str, dict[str, Any]] = {}
    failures: list[str] = []
    meta: dict[str, str] | None = None
    try:
        with engine.connect() as conn:
            keys = ("checkpoint_block", "head_block")
            meta = {r.key: r.value for r in conn.execute(select(t.meta).where(t.meta.c.key.in_(keys)))}
        checks["database"] = {"status": "ok"}
    except Exception as exc:
        checks["database"] = {"status": "failed", "error": type(exc).__name__}
        failures.append(f"database unreachable ({type(exc).__name__})")

    head: int | None = None
    if chain is None:
        checks["chain"] = {"status": "skipped", "detail": "no chain configured for this app"}
    else:
        try:
            head = chain.head()
            checks["chain"] = {"status": "ok", "head": head}
        except NodeUnreachable as exc:
            checks["chain"] = {"status": "failed", "error": str(exc)}
            failures.append(f"chain unreachable ({exc})")

    limit = max_lag + confirmations
    indexer: dict[str, Any] = {"max_lag_blocks": limit}
    checkpoint = meta.get("checkpoint_block") if meta is not None else None
    if meta is None:
        indexer["status"] = "unknown"
    elif checkpoint is None:
        indexer["status"] = "failed"
        failures.append("the indexer has not indexed any block yet")
    else:
        if head is None and chain is None and meta.get("head_block"):
            head = int(meta["head_block"])  # no chain to ask: the head the indexer last saw
        indexer["checkpoint"] = int(checkpoint)
        if head is None:
            indexer["status"] = "unknown"
        else:
            lag = max(0, head - int(checkpoint))
            indexer["lag_blocks"] = lag
            indexer["status"] = "ok" if lag <= limit else "failed"
            if lag > limit:
                failures.append(f"indexer lag {lag} blocks exceeds the limit of {limit}")
    checks["indexer"] = indexer
    return checks, failures


def drift_readiness(engine: Engine) -> tuple[dict[str, Any], str | None]:
    """(check, failure) for `/readyz` from the latest drift check (`staking.worker.drift`): degraded
    while `drift_findings` has rows, naming up to DRIFT_NAMED providers and their fields."""
    f = t.drift_findings
    try:
        with snapshot(engine) as conn:
            keys = (META_CHECKED_MS, META_BLOCK)
            meta = {r.key: r.value for r in conn.execute(select(t.meta).where(t.meta.c.key.in_(keys)))}
            total = int(conn.execute(select(func.count(distinct(f.c.provider)))).scalar_one())
            named = select(f.c.provider).distinct().order_by(f.c.provider).limit(DRIFT_NAMED)
            q = select(f.c.provider, f.c.field).where(f.c.provider.in_(named.scalar_subquery()))
            rows = conn.execute(q.distinct().order_by(f.c.provider, f.c.field)).all()
    except Exception as exc:
        return {"status": "unknown", "error": type(exc).__name__}, None
    if META_CHECKED_MS not in meta:
        return {"status": "unknown", "detail": "no drift check has run yet"}, None
    check: dict[str, Any] = {"block": int(meta[META_BLOCK]), "checked_at": int(meta[META_CHECKED_MS]) // 1000}
    if not total:
        return {"status": "ok", **check}, None
    providers: dict[str, list[str]] = {}
    for r in rows:
        providers.setdefault(r.provider, []).append(r.field)
    named_text = ", ".join(f"{a} ({', '.join(fields)})" for a, fields in providers.items())
    more = f" and {total - len(providers)} more" if total > len(providers) else ""
    failure = (
        f"projection drift at block {check['block']}: {total} provider(s) differ from the contract: "
        f"{named_text}{more}"
    )
    return {"status": "degraded", **check, "providers_total": total, "providers": providers}, failure


def create_app(
    engine: Engine,
    intake: IntakeService,
    *,
    routers: Sequence[APIRouter] = (),
    title: str = "Swarm staking & slashing service",
    chain: ChainProbe | None = None,
    max_indexer_lag_blocks: int = 20,
    confirmations: int = 0,
    clock: Callable[[], float] = time.time,
    security: SecurityOptions | None = None,
) -> FastAPI:
    """The API over `engine`, with verdict intake through `intake`; `routers` add more endpoints.

    `chain` answers the chain head for `/readyz` (no chain: that check is skipped);
    `max_indexer_lag_blocks` (+ `confirmations`) is the lag `/readyz` tolerates; `clock` (unix
    seconds) is the time provider documents are evaluated at; `security` the limits, admin token
    and CORS origins (default: `SecurityOptions()`, no admin token, no CORS, no rate limits — the
    intake's own `limiter` applies)."""
    security = security or SecurityOptions()
    app = FastAPI(
        title=title,
        version=staking.__version__,
        description=(
            "Turns Swarm risk-framework verdicts into on-chain staking consequences and shows node "
            "providers where they stand. Errors are RFC 9457 `application/problem+json`; each "
            "problem `type` is documented at that path."
        ),
    )
    app.state.engine = engine
    app.state.intake = intake
    app.state.security = security
    install_problem_handlers(app)
    install_rate_limit_handler(app)

    @app.get("/healthz", response_model=Health, tags=["operations"], summary="The process is up")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": staking.__version__}

    metrics = metrics_registry(engine)
    # Outermost last: the request id and access log see every answer (413s and 429s too), and
    # CORS headers, when enabled, go on the limits' refusals as well.
    app.add_middleware(RequestLimits, options=security)
    install_cors(app, security.cors_origins)
    app.add_middleware(RequestContext, latency=request_latency(metrics))

    @app.get(
        "/readyz",
        response_model=Readiness,
        tags=["operations"],
        summary="Ready to serve: database and chain reachable, indexer lag under the limit, no drift",
        responses={
            503: {
                "model": Problem,
                "description": "Not ready: `detail` names every failing check, `checks` has them all "
                "(`checks.drift.status` is `degraded` when the projection differs from the contract, "
                "with the providers and fields)",
            }
        },
    )
    def readyz() -> Any:
        checks, failures = readiness(engine, chain, max_indexer_lag_blocks, confirmations)
        checks["drift"], drifted = drift_readiness(engine)
        if drifted is not None:
            failures.append(drifted)
        if failures:
            return problem(
                503, "not-ready", "; ".join(failures), {"Retry-After": str(RETRY_AFTER_S)}, checks=checks
            )
        return {"status": "ready", "checks": checks}

    @app.get(
        "/metrics",
        response_class=Response,
        tags=["operations"],
        summary="Prometheus metrics (text format 0.0.4)",
        description=(
            "Scheduled job runs, verdicts, actions, transaction intents, investigations and indexer "
            "progress, counted from the service database: every API process answers for the whole "
            "service. Needs the admin bearer token when SWARM_ADMIN_TOKEN is set."
        ),
        responses={200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}}},
        **admin_route(),
    )
    def prometheus_metrics() -> Response:
        return Response(render(metrics), media_type=CONTENT_TYPE)

    @app.get("/problems/{slug}", include_in_schema=False)
    def problem_type(slug: str) -> dict[str, Any]:
        if slug not in PROBLEM_TYPES:
            raise ProblemException(404, None, f"no problem type {slug!r}")
        status, title, description = PROBLEM_TYPES[slug]
        return {"type": f"/problems/{slug}", "status": status, "title": title, "description": description}

    app.include_router(intake_router(intake))
    head = chain.recent if chain is not None else (lambda: None)
    app.include_router(providers_router(engine, intake.policy, clock, head))
    from staking.api.rewards import rewards_router  # it imports read_body from this module

    app.include_router(rewards_router(engine, PerformanceIntake(engine, intake.detectors, intake.clock)))
    for router in routers:
        app.include_router(router)
    problem_openapi(app)
    document_security(app, security)
    return app


def chain_aware_clock(engine: Engine, refresh_s: float = 1.0) -> Callable[[], float]:
    """Unix time for judging a verdict's `detected_at`: the wall clock, or the last indexed block's
    timestamp when the chain runs ahead of it (a devnet whose clock was moved forward). The
    contract judges `detectedAt` and `maxVerdictAge` by block time, so the intake must not refuse
    as "in the future" a verdict the chain would take. The block time is read at most once a
    `refresh_s`."""
    cached = [0.0, -refresh_s]  # (block time, monotonic time read)

    def now() -> float:
        wall = time.time()
        if time.monotonic() - cached[1] >= refresh_s:
            with engine.connect() as conn:
                value = conn.execute(select(t.meta.c.value).where(t.meta.c.key == "checkpoint_time")).scalar()
            cached[:] = [float(value) if value and value.isdigit() else 0.0, time.monotonic()]
        return max(wall, cached[0])

    return now


def app_from_settings(settings: Settings) -> FastAPI:
    """The production wiring: database, chain, deployment and policy from `settings`."""
    from eth_utils import to_checksum_address
    from sqlalchemy import select

    from staking.chain.connect import connect
    from staking.chain.contracts import StakingContract
    from staking.db import schema as t
    from staking.db.engine import make_engine, require_current_schema
    from staking.deployment import Deployment
    from staking.domain.vocabulary import DEVNET_CHAIN_ID
    from staking.policy import load_policy
    from staking.verdict import Domain

    deployment = Deployment.load(settings.deployment)
    engine = make_engine(settings.database_url)
    require_current_schema(engine)
    w3 = connect(settings.rpc_url or deployment.rpc_url)
    contract = StakingContract(w3, deployment.contracts.SwarmStaking, settings.artifacts_dir)
    domain = Domain(chain_id=deployment.chain_id, verifying_contract=contract.address)

    # The database must describe the same chain and contract the signatures are checked against.
    with engine.connect() as conn:
        meta = {r.key: r.value for r in conn.execute(select(t.meta))}
    if "chain_id" in meta and int(meta["chain_id"]) != domain.chain_id:
        raise RuntimeError(
            f"database indexes chain {meta['chain_id']}, "
            f"deployment {settings.deployment} is chain {domain.chain_id}"
        )
    if (
        "staking_address" in meta
        and to_checksum_address(meta["staking_address"]) != domain.verifying_contract
    ):
        raise RuntimeError(
            f"database indexes SwarmStaking at {meta['staking_address']}, "
            f"deployment has {domain.verifying_contract}"
        )
    node_chain = w3.eth.chain_id
    if node_chain != domain.chain_id:
        raise RuntimeError(f"node at the RPC URL is chain {node_chain}, deployment says {domain.chain_id}")

    security = SecurityOptions.from_settings(settings)
    log.info("api settings", extra={"settings": settings.loggable()})  # secrets and URLs redacted
    if security.admin_token is None and domain.chain_id != DEVNET_CHAIN_ID:
        log.warning(
            "SWARM_ADMIN_TOKEN is not set: /metrics and /v1/investigations (who is under "
            "investigation) are open to anyone who can reach the API; set it, or keep the API on a "
            "private network",
            extra={"chain_id": domain.chain_id},
        )
    if security.cors_origins:
        log.info("CORS enabled", extra={"origins": list(security.cors_origins)})
    intake = IntakeService(
        engine=engine,
        domain=domain,
        detector_check=lambda account: contract.has_role("DETECTOR_ROLE", account),
        # SWARM_POLICY_FILE (see default.toml) once Settings carries `policy_file`.
        policy=load_policy(getattr(settings, "policy_file", None)),
        max_age=contract.max_verdict_age(),
        clock=chain_aware_clock(engine),
        limiter=signer_limiter(security),
    )
    rpc_url = settings.rpc_url or deployment.rpc_url
    return create_app(
        engine,
        intake,
        chain=ChainProbe(rpc_head(rpc_url)),
        max_indexer_lag_blocks=settings.max_indexer_lag_blocks,
        confirmations=settings.confirmations,
        security=security,
    )
