"""`GET /healthz` (the process is up) and `GET /readyz` (ready to serve), and the checks behind
readiness: the database answers, the chain answers (`ChainProbe`), the indexer is not too far
behind, and then every check of `READINESS_CHECKS` (the projection agrees with the contract, ...).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import requests
from fastapi import APIRouter
from sqlalchemy import Engine, distinct, func, select

import staking
from staking.api.incidents import incidents_check
from staking.api.models import Health, Readiness
from staking.api.problems import RETRY_AFTER_S, Problem, problem
from staking.db import schema as t
from staking.db.meta import DRIFT_BLOCK, DRIFT_CHECKED_MS
from staking.domain.errors import NodeUnreachable
from staking.readmodel import snapshot
from staking.txmanager.store import fee_cap_readiness

DRIFT_NAMED = 10  # providers named by a degraded /readyz

# A readiness check beyond database, chain and indexer: `check(engine)` is `(result, failure)`,
# the result shown under its name in `checks` (with a `status`), the failure (None: none) one of
# the reasons a 503 gives in `detail`.
ReadinessCheck = Callable[[Engine], tuple[dict[str, Any], str | None]]


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
            keys = (DRIFT_CHECKED_MS, DRIFT_BLOCK)
            meta = {r.key: r.value for r in conn.execute(select(t.meta).where(t.meta.c.key.in_(keys)))}
            total = int(conn.execute(select(func.count(distinct(f.c.provider)))).scalar_one())
            named = select(f.c.provider).distinct().order_by(f.c.provider).limit(DRIFT_NAMED)
            q = select(f.c.provider, f.c.field).where(f.c.provider.in_(named.scalar_subquery()))
            rows = conn.execute(q.distinct().order_by(f.c.provider, f.c.field)).all()
    except Exception as exc:
        return {"status": "unknown", "error": type(exc).__name__}, None
    if DRIFT_CHECKED_MS not in meta:
        return {"status": "unknown", "detail": "no drift check has run yet"}, None
    check: dict[str, Any] = {
        "block": int(meta[DRIFT_BLOCK]),
        "checked_at": int(meta[DRIFT_CHECKED_MS]) // 1000,
    }
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


def fee_cap_check(engine: Engine) -> tuple[dict[str, Any], str | None]:
    """(check, failure) for `/readyz`: degraded while an isolation (a jail) is stuck at the fee cap,
    so it can be neither mined at its fees nor replaced with higher ones
    (`staking.txmanager.store.fee_cap_readiness`)."""
    try:
        with snapshot(engine) as conn:
            return fee_cap_readiness(conn)
    except Exception as exc:
        return {"status": "unknown", "error": type(exc).__name__}, None


# The checks after database, chain and indexer, in the order `/readyz` shows them; a new check is
# one more `(name, check)` here.
READINESS_CHECKS: tuple[tuple[str, ReadinessCheck], ...] = (
    ("drift", drift_readiness),
    ("fee_cap", fee_cap_check),
    ("incidents", incidents_check),
)


def health_router(
    engine: Engine,
    chain: ChainProbe | None,
    max_indexer_lag_blocks: int,
    confirmations: int,
    checks: Sequence[tuple[str, ReadinessCheck]] = READINESS_CHECKS,
) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", response_model=Health, summary="The process is up")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": staking.__version__}

    @router.get(
        "/readyz",
        response_model=Readiness,
        summary="Ready to serve: database and chain reachable, indexer lag under the limit, no drift",
        responses={
            503: {
                "model": Problem,
                "description": "Not ready: `detail` names every failing check, `checks` has them all "
                "(`checks.drift.status` is `degraded` when the projection differs from the contract, "
                "with the providers and fields; `checks.fee_cap.status` when an isolation is stuck at "
                "the fee cap, with the intents; `checks.incidents.status` while an incident holds slashes)",
            }
        },
    )
    def readyz() -> Any:
        results, failures = readiness(engine, chain, max_indexer_lag_blocks, confirmations)
        for name, check in checks:
            results[name], failure = check(engine)
            if failure is not None:
                failures.append(failure)
        if failures:
            return problem(
                503, "not-ready", "; ".join(failures), {"Retry-After": str(RETRY_AFTER_S)}, checks=results
            )
        return {"status": "ready", "checks": results}

    return router
