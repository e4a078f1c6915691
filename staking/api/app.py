"""The HTTP API (SPEC section 4): `create_app` assembles it, `app_from_settings` wires it for
production. One router per resource: verdicts (`staking.api.verdicts`), investigations
(`staking.api.investigations`), providers and slashes (`staking.api.providers`), appeals of
slashes (`staking.api.appeals`), performance reports and epochs (`staking.api.rewards`), health
and readiness (`staking.api.health`), metrics (`staking.api.metrics`) and the problem types'
documentation (`staking.api.problems`); more plug in through `create_app(..., routers=[...])`.

Every error is `application/problem+json` (see `staking.api.problems`). Every response carries an
`X-Request-ID` (the caller's, or one made here) that is also in every log line of the request, and
every request is timed into `swarm_http_request_duration_seconds` (`staking.api.middleware`). Body
size and JSON depth limits, rate limits, the admin token and CORS are `staking.api.security`'s
(threat model: SECURITY.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI
from sqlalchemy import Engine, select

import staking
from staking.api.appeals import appeals_router
from staking.api.docs import install_local_docs
from staking.api.health import ChainProbe, health_router, rpc_head
from staking.api.incidents import incidents_router
from staking.api.investigations import investigations_router
from staking.api.metrics import IncidentCollector, metrics_router
from staking.api.middleware import RequestContext
from staking.api.network import LiveCaps, live_caps, network_router
from staking.api.policy import policy_router
from staking.api.problems import install_problem_handlers, problem_openapi, problems_router
from staking.api.providers import providers_router
from staking.api.rewards import rewards_router
from staking.api.security import (
    RequestLimits,
    SecurityOptions,
    document_security,
    install_cors,
    install_rate_limit_handler,
    signer_limiter,
)
from staking.api.stream import stream_router
from staking.api.verdicts import verdicts_router
from staking.db import schema as t
from staking.intake.performance import PerformanceIntake
from staking.intake.policy_change import announce_policy
from staking.intake.service import IntakeService
from staking.metrics import metrics_registry, request_latency
from staking.web.pages import install_pages

if TYPE_CHECKING:
    from staking.config import Settings
    from staking.runtime import Runtime

log = logging.getLogger("staking.api")


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
    caps: LiveCaps | None = None,
) -> FastAPI:
    """The API over `engine`, with verdict intake through `intake`; `routers` add more endpoints.

    `chain` answers the chain head for `/readyz` (no chain: that check is skipped);
    `max_indexer_lag_blocks` (+ `confirmations`) is the lag `/readyz` tolerates; `clock` (unix
    seconds) is the time provider documents are evaluated at; `security` the limits, admin token
    and CORS origins (default: `SecurityOptions()`, no admin token, no CORS, no rate limits — the
    intake's own `limiter` applies); `caps` the contract's caps and their use, read live: with it
    the app serves `/v1/network` and the operator page shows the caps' use."""
    security = security or SecurityOptions()
    app = FastAPI(
        title=title,
        version=staking.__version__,
        docs_url=None,  # served from local assets below (install_local_docs), not a CDN
        redoc_url=None,
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

    metrics = metrics_registry(engine)
    metrics.register(IncidentCollector(engine))
    # Outermost last: the request id and access log see every answer (413s and 429s too), and
    # CORS headers, when enabled, go on the limits' refusals as well.
    app.add_middleware(RequestLimits, options=security)
    install_cors(app, security.cors_origins)
    app.add_middleware(RequestContext, latency=request_latency(metrics))

    head = chain.recent if chain is not None else (lambda: None)
    performance = PerformanceIntake(engine, intake.detectors, intake.clock)
    for router in (
        health_router(engine, chain, max_indexer_lag_blocks, confirmations),
        metrics_router(metrics),
        problems_router(),
        verdicts_router(intake),
        investigations_router(engine),
        incidents_router(engine),
        providers_router(engine, intake.policy, clock, head),
        appeals_router(engine, clock),
        rewards_router(engine, performance),
        stream_router(engine),
        policy_router(intake.policy),
        *([network_router(engine, caps)] if caps is not None else []),
        *routers,
    ):
        app.include_router(router)
    install_local_docs(app)
    install_pages(app, engine, intake.policy, clock, head, caps.current if caps is not None else None)
    problem_openapi(app)
    document_security(app, security)
    return app


def chain_aware_clock(
    engine: Engine,
    refresh_s: float = 1.0,
    wall: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> Callable[[], float]:
    """Unix time for judging a verdict's `detected_at`: the wall clock, or the last indexed block's
    timestamp when the chain runs ahead of it (a devnet whose clock was moved forward). The
    contract judges `detectedAt` and `maxVerdictAge` by block time, so the intake must not refuse
    as "in the future" a verdict the chain would take. The block time is read at most once a
    `refresh_s`."""
    cached = [0.0, -refresh_s]  # (block time, monotonic time read)

    def now() -> float:
        if monotonic() - cached[1] >= refresh_s:
            with engine.connect() as conn:
                value = conn.execute(select(t.meta.c.value).where(t.meta.c.key == "checkpoint_time")).scalar()
            cached[:] = [float(value) if value and value.isdigit() else 0.0, monotonic()]
        return max(wall(), cached[0])

    return now


def app_from_settings(settings: Settings, runtime: Runtime | None = None) -> FastAPI:
    """The production wiring: database, chain, deployment and policy from the composition root
    (`staking.runtime`; one is built from `settings` when the caller has none)."""
    from eth_utils import to_checksum_address

    from staking.domain.vocabulary import DEVNET_CHAIN_ID
    from staking.runtime import build_runtime
    from staking.verdict import Domain

    rt = runtime or build_runtime(settings)
    engine, contract = rt.engine, rt.staking
    domain = Domain(chain_id=rt.deployment.chain_id, verifying_contract=contract.address)

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
    node_chain = rt.w3.eth.chain_id
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
    outbox = rt.webhook_notifier(start=False).record
    announce_policy(engine, rt.policy, outbox, str(settings.policy_file or "the packaged default"))
    intake = IntakeService(
        engine=engine,
        domain=domain,
        detector_check=lambda account: contract.has_role("DETECTOR_ROLE", account),
        policy=rt.policy,
        max_age=contract.max_verdict_age(),
        clock=chain_aware_clock(engine, wall=rt.clock, monotonic=rt.monotonic),
        limiter=signer_limiter(security),
        outbox=outbox,  # the `incident` webhook
    )
    return create_app(
        engine,
        intake,
        caps=LiveCaps(lambda: live_caps(contract)),
        chain=ChainProbe(rpc_head(rt.rpc_url)),
        max_indexer_lag_blocks=settings.max_indexer_lag_blocks,
        confirmations=settings.confirmations,
        security=security,
    )
