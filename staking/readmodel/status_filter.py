"""A provider status as SQL: the listing's `?status=` filter. It must select exactly the rows
whose `staking.domain.status.provider_status` is that status (a property test checks it over
generated rows and times); it exists so a listing by status pages in the database."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, or_, true

from staking.db import schema as t
from staking.domain.clock import EpochClock
from staking.domain.vocabulary import ProviderStatus


def status_condition(status: str, now: int, clock: EpochClock | None) -> ColumnElement[bool]:
    """SQL for `provider_status(row, now, clock or EpochClock(0, 1)) == status`: before the indexer
    has recorded the epoch clock, documents count epochs as `provider_status` does then."""
    clock = clock or EpochClock(0, 1)
    p = t.providers.c
    if status == ProviderStatus.UNREGISTERED:
        return false()  # no row
    if status == ProviderStatus.TOMBSTONED:
        return p.tombstoned == true()
    if status == ProviderStatus.IN_RECOVERY:
        return and_(p.tombstoned == false(), p.recovery_path != 0)
    free = and_(p.tombstoned == false(), p.recovery_path == 0)
    if status == ProviderStatus.JAILED:
        return and_(free, p.jailed == true())
    free = and_(free, p.jailed == false())
    if status == ProviderStatus.UNBONDING:
        return and_(free, p.active == 0, p.unbonding != 0)
    if status == ProviderStatus.EXITED:
        return and_(free, p.active == 0, p.unbonding == 0)
    bonded = and_(free, p.active != 0)
    # epoch_at(now) < epoch_at(reinstated_at) + probation_epochs, without SQL division:
    # max(0, (r - g) // L) >= k  <=>  k <= 0 or r >= g + k * L,  k = epoch_at(now) + 1 - epochs.
    k = clock.epoch_at(now) + 1 - p.probation_epochs
    probation = and_(
        p.reinstated_at.is_not(None),
        p.probation_epochs != 0,
        or_(k <= 0, p.reinstated_at >= clock.genesis + k * clock.length),
    )
    if status == ProviderStatus.PROBATION:
        return and_(bonded, probation)
    return and_(bonded, ~probation)  # active
