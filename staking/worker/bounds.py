"""What the executor knows of the chain's bounds: the caps and bounds (`StakingContract.caps()`,
read once and kept for `ttl` seconds), the window's cap usage (`capUsage()`, at most once per
step), and when an action that met a full cap may be simulated again (backoff, so a full cap
costs the node one simulation per retry, not one per action per step)."""

from __future__ import annotations

import time
from collections.abc import Callable

from staking.chain.contracts import Caps, CapUsage, StakingContract

CAPS_TTL_S = 30.0
RETRY_FIRST_S = 5.0  # the first retry after a full cap ...
RETRY_MOST_S = 120.0  # ... doubling up to this
QUORUM_POLL_S = 1.0  # a slash waiting for co-signatures looks again this often (database only)


class ChainBounds:
    def __init__(
        self, staking: StakingContract, clock: Callable[[], float] = time.monotonic, ttl: float = CAPS_TTL_S
    ) -> None:
        self.staking = staking
        self.clock = clock
        self.ttl = ttl
        self._caps: tuple[float, Caps] | None = None
        self._usage: CapUsage | None = None

    def caps(self) -> Caps:
        """The chain's caps and bounds, read again after `ttl` seconds (raises when the node is down)."""
        now = self.clock()
        if self._caps is None or now - self._caps[0] >= self.ttl:
            self._caps = (now, self.staking.caps())
        return self._caps[1]

    def caps_age(self) -> float | None:
        return None if self._caps is None else self.clock() - self._caps[0]

    def invalidate(self) -> None:
        """Forget the cached caps: a revert said they changed."""
        self._caps = None

    def new_step(self) -> None:
        self._usage = None

    def usage(self) -> CapUsage:
        """`capUsage()`, read once per step."""
        if self._usage is None:
            self._usage = self.staking.cap_usage()
        return self._usage


class Backoff:
    """When each waiting action may be tried again (by action id), and a gate for a whole kind: a
    full jail cap refuses every jail alike, so jails wait together until the gate reopens."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._until: dict[int, float] = {}
        self._delay: dict[int, float] = {}
        self._gate: dict[str, tuple[float, float]] = {}  # kind -> (closed until, last delay)

    def wait(self, action_id: int, seconds: float | None = None) -> float:
        """Keep `action_id` back for `seconds`, or for the next backoff step; returns the time it may go."""
        if seconds is None:
            seconds = min(RETRY_MOST_S, self._delay.get(action_id, RETRY_FIRST_S / 2) * 2)
            self._delay[action_id] = seconds
        until = self.clock() + seconds
        self._until[action_id] = until
        return until

    def waiting(self) -> list[int]:
        """The action ids that must not be tried yet (expired entries are dropped)."""
        now = self.clock()
        for action_id in [a for a, until in self._until.items() if until <= now]:
            del self._until[action_id]
        return list(self._until)

    def passed(self, action_id: int) -> None:
        self._until.pop(action_id, None)
        self._delay.pop(action_id, None)

    def close(self, kind: str) -> float:
        """The chain refused a `kind` for a full cap: the gate closes for the next backoff step."""
        _, last = self._gate.get(kind, (0.0, RETRY_FIRST_S / 2))
        delay = min(RETRY_MOST_S, last * 2)
        until = self.clock() + delay
        self._gate[kind] = (until, delay)
        return until

    def closed_until(self, kind: str) -> float | None:
        until = self._gate.get(kind, (0.0, 0.0))[0]
        return until if until > self.clock() else None

    def open(self, kind: str) -> None:
        """A `kind` passed simulation: the cap has room again, the next refusal starts afresh."""
        self._gate.pop(kind, None)
