"""Rate limits for the intake: token buckets keyed by the recovered signer (and, optionally, by
the client's IP address before any signature is recovered).

A bucket holds up to `burst` tokens and refills at `rate` tokens per second; each request takes
one. An empty bucket raises `RateLimited` with the seconds until the next token, which the API
turns into `429 Too Many Requests` with `Retry-After`. The check runs before anything is stored,
and replays of an accepted verdict count like new ones (a replay costs a signature recovery and a
database read too).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from staking.intake.errors import IntakeError

MAX_KEYS = 10_000  # buckets kept; idle (full) ones are dropped first, then the least recently used


@dataclass(frozen=True)
class Limit:
    rate: float  # tokens per second
    burst: int  # bucket size

    @property
    def enabled(self) -> bool:
        return self.rate > 0 and self.burst > 0


class RateLimited(IntakeError):
    """`key` has used up its bucket; the next request may succeed in `retry_after` seconds."""

    def __init__(self, key: str, retry_after: float, limit: Limit, subject: str) -> None:
        super().__init__(f"rate limit of {subject} {key} exceeded")
        self.key, self.retry_after, self.limit, self.subject = key, retry_after, limit, subject

    @property
    def retry_after_seconds(self) -> int:
        """`Retry-After` in whole seconds (at least 1)."""
        return max(1, math.ceil(self.retry_after))

    @property
    def detail(self) -> str:
        """What the refusal says to the client."""
        return (
            f"{self.subject} {self.key} sent more than {self.limit.burst} requests in a burst "
            f"or {self.limit.rate:g}/s sustained; retry after {self.retry_after_seconds} s. "
            "Nothing was stored."
        )


class TokenBuckets:
    """One token bucket per key, thread-safe (the intake runs in the API's thread pool)."""

    def __init__(
        self,
        limit: Limit,
        subject: str = "signer",
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.limit, self.subject, self.clock, self.max_keys = limit, subject, clock, max_keys
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def take(self, key: str) -> None:
        """Take one token from `key`'s bucket; RateLimited if it is empty (nothing is taken)."""
        if not self.limit.enabled:
            return
        rate, burst = self.limit.rate, float(self.limit.burst)
        with self._lock:
            now = self.clock()
            tokens, at = self._buckets.pop(key, (burst, now))
            tokens = min(burst, tokens + (now - at) * rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                raise RateLimited(key, (1.0 - tokens) / rate, self.limit, self.subject)
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > self.max_keys:
                self._evict(now)

    def _evict(self, now: float) -> None:
        """Drop buckets that have refilled (forgetting them changes nothing), then the oldest."""
        burst, rate = float(self.limit.burst), self.limit.rate
        for key in [k for k, (tok, at) in self._buckets.items() if tok + (now - at) * rate >= burst]:
            del self._buckets[key]
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
