"""A provider's status: the one definition (SPEC section 4). The read model's SQL filter for a
status (`staking.readmodel`) is checked equal to this function over generated states."""

from __future__ import annotations

from typing import Protocol

from staking.domain.clock import EpochClock
from staking.domain.vocabulary import ProviderStatus

STATUSES = tuple(s.value for s in ProviderStatus)


class ProviderFacts(Protocol):
    """What the status is computed from: the indexed provider row (`indexer.projection.ProviderRow`)."""

    tombstoned: bool
    recovery_path: int
    jailed: bool
    jailed_until: int
    active: int
    unbonding: int
    reinstated_at: int | None
    probation_epochs: int


def probation_until(p: ProviderFacts, clock: EpochClock) -> int | None:
    """The first epoch at full reward weight after a reinstatement, or None without one."""
    if p.reinstated_at is None or not p.probation_epochs:
        return None
    return clock.epoch_at(p.reinstated_at) + p.probation_epochs


def provider_status(p: ProviderFacts | None, now: int, clock: EpochClock) -> tuple[ProviderStatus, str]:
    """(status, reason), most severe standing first."""
    if p is None:
        return ProviderStatus.UNREGISTERED, "no ProviderRegistered event for this address"
    if p.tombstoned:
        return ProviderStatus.TOMBSTONED, "permanently excluded by governance"
    if p.recovery_path:
        return ProviderStatus.IN_RECOVERY, "a recovery path is open"
    if p.jailed:
        if p.jailed_until and now >= p.jailed_until:
            return ProviderStatus.JAILED, "jail expired; the provider may unjail itself"
        if p.jailed_until == 0:
            return ProviderStatus.JAILED, "isolated until recovery"
        return ProviderStatus.JAILED, "isolated until the jail expires"
    if p.active == 0:
        if p.unbonding > 0:
            return ProviderStatus.UNBONDING, "all stake is unbonding"
        return ProviderStatus.EXITED, "no stake bonded"
    until = probation_until(p, clock)
    if until is not None and clock.epoch_at(now) < until:
        return ProviderStatus.PROBATION, f"reinstated; reduced reward weight until epoch {until}"
    return ProviderStatus.ACTIVE, "bonded and in good standing"
