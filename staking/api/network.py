"""`GET /v1/network` (SPEC section 8): the caps, their use in the current window, open incidents
and totals. The caps and their use are read from the contract (at most once every `ttl` seconds,
so a dashboard polling it costs the node little); when the node does not answer, the bounds come
from the index and `usage` is null with the reason."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from staking.chain.contracts import StakingContract
from staking.readmodel.network import Live, network_document
from staking.readmodel.queries import snapshot


class NetworkCaps(BaseModel):
    window_seconds: int
    jail_cap: int
    slash_cap_bps: int
    max_slash_bps: int
    severity_bounds: dict[str, int] = Field(description="The most a verdict of each severity may carry, bps")
    quorum: int
    quorum_bps: int
    source: str = Field(description="chain (read now) or index (as last indexed)")


class NetworkUsage(BaseModel):
    jails: int = Field(description="Jails by SLASHER_ROLE in the current window")
    jails_left: int
    at_stake: str = Field(description="Stake newly put at stake by slash proposals in the window, base units")
    slash_cap: str = Field(description="The window's cap: total_bonded * slash_cap_bps / 10,000, base units")
    total_bonded: str


class NetworkIncidents(BaseModel):
    open: int
    ids: list[int]


class NetworkTotals(BaseModel):
    providers: int
    active: str
    unbonding: str
    bonded: str
    jailed: int


class Network(BaseModel):
    caps: NetworkCaps | None
    usage: NetworkUsage | None
    usage_unavailable: str | None = Field(description="Why the window's use could not be read now")
    incidents: NetworkIncidents
    totals: NetworkTotals
    as_of: dict[str, Any]


def live_caps(staking: StakingContract) -> Live:
    return staking.caps(), staking.cap_usage()


class LiveCaps:
    """The contract's caps and their use, read at most once a `ttl` (None when no chain is
    configured or the node did not answer, with why): `/v1/network` and the operator page share it."""

    def __init__(self, read: Callable[[], Live] | None, ttl: float = 2.0) -> None:
        self.read, self.ttl = read, ttl
        self._lock = threading.Lock()
        self._cached: list[Any] = [None, None, -ttl]  # (Live | None, why not, monotonic time read)

    def current(self) -> tuple[Live | None, str | None]:
        if self.read is None:
            return None, "no chain configured"
        with self._lock:
            if time.monotonic() - self._cached[2] >= self.ttl:
                try:
                    self._cached[:] = [self.read(), None, time.monotonic()]
                except Exception as exc:  # the node is down or slow: answer from the index
                    self._cached[:] = [
                        None,
                        f"the node did not answer ({type(exc).__name__})",
                        time.monotonic(),
                    ]
            return self._cached[0], self._cached[1]


def network_router(engine: Engine, read: Callable[[], Live] | LiveCaps | None, ttl: float = 2.0) -> APIRouter:
    """`read`: the contract's figures (None: no chain configured), or a `LiveCaps` to share."""
    router = APIRouter(tags=["network"])
    live_caps_ = read if isinstance(read, LiveCaps) else LiveCaps(read, ttl)

    @router.get("/v1/network", response_model=Network, summary="Caps, their use, open incidents, totals")
    def network() -> dict[str, Any]:
        live, why = live_caps_.current()
        with snapshot(engine) as conn:
            return network_document(conn, live, why)

    return router
