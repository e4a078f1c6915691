"""How the demo words what the API answers: times, amounts and a verdict's decision (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from staking.domain.vocabulary import TOKEN


def utc(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%H:%M:%SZ")


def swarm(amount: int | str) -> str:
    """Base units as SWARM with two decimals (display only)."""
    whole, frac = divmod(int(amount), TOKEN)
    return f"{whole:,}.{frac * 100 // TOKEN:02d}"


def jail_text(decision: dict[str, Any]) -> str:
    """The jail of a decision of `GET /v1/verdicts/{id}`: `jail_seconds` is null for no jail, 0 for
    a jail until recovery (also `jail_until_recovery`), and the length of a timed jail otherwise."""
    seconds = decision.get("jail_seconds")
    if decision.get("jail_until_recovery") or seconds == 0:
        return "jail until recovery"
    if seconds is None:
        return "no jail"
    return f"jail {seconds} s"


def decision_text(decision: dict[str, Any]) -> str:
    """`level penalty, slash 500 bps, jail until recovery, recovery path security_review`."""
    path = decision.get("recovery_path") or "none"
    return (
        f"level {decision['level']}, slash {decision['slash_bps']} bps, {jail_text(decision)}, "
        f"recovery path {path}"
    )


def recovery_text(rec: dict[str, Any]) -> str:
    """An open recovery's path and stage; for a timed jail (no stage: nothing open on chain) the
    policy's path is guidance, and for a jail until recovery governance has not chosen one yet."""
    if rec.get("stage"):
        return f"recovery {rec['path']}/{rec['stage']}"
    if rec.get("path"):
        return f"recovery path {rec['path']} (guidance, nothing open on chain)"
    return "no recovery path open yet"
