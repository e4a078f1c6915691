"""Time: the contract's reward-epoch clock and how times are written for people."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class EpochClock:
    """The contract's `currentEpoch()` counting: epoch n spans `genesis + n * length` onwards."""

    genesis: int
    length: int

    def epoch_at(self, timestamp: int) -> int:
        return max(0, (timestamp - self.genesis) // self.length)

    def start_of(self, epoch: int) -> int:
        return self.genesis + epoch * self.length

    def end_of(self, epoch: int) -> int:
        return self.genesis + (epoch + 1) * self.length


def iso_seconds(ts: int) -> str:
    """Unix seconds as ISO-8601 UTC (`2026-11-22T03:32:35Z`)."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_ms(ms: int | None) -> str | None:
    """Unix milliseconds as ISO-8601 UTC (`2026-11-22T03:32:35.304Z`)."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
