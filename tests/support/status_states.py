"""Generated provider states for the status-filter property tests: provider rows, times next to
epoch boundaries and epoch clocks (or none yet), and the check that the SQL filter of each status
selects exactly the rows `staking.domain.status.provider_status` gives that status."""

from __future__ import annotations

from eth_utils import to_checksum_address
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, select

from indexer.projection import ProviderRow, row_dict, row_from
from staking.db import schema as t
from staking.domain.clock import EpochClock
from staking.domain.status import STATUSES, provider_status
from staking.readmodel.status_filter import status_condition

GENESIS = 1_700_000_000


clocks = st.one_of(
    st.none(), st.builds(EpochClock, st.integers(GENESIS - 10**6, GENESIS + 10**6), st.integers(1, 10**6))
)


stakes = st.sampled_from([0, 1, 10**18, 2**255])


def instants(clock: EpochClock | None) -> st.SearchStrategy[int]:
    """Any time, or one next to an epoch boundary (probation ends on one), before genesis too."""
    c = clock or EpochClock(0, 1)  # the clock documents count with before one is indexed
    anywhere = st.integers(c.genesis - 2 * 10**6, c.genesis + 10**8)
    boundary = st.builds(lambda e, d: c.start_of(e) + d, st.integers(0, 60), st.sampled_from([-1, 0, 1]))
    return st.one_of(anywhere, boundary, st.integers(0, c.genesis))


@st.composite
def provider_rows(draw: st.DrawFn, n: int, clock: EpochClock | None) -> ProviderRow:
    jailed = draw(st.booleans())
    return ProviderRow(
        address=to_checksum_address(f"0x{n + 1:040x}"),
        provider_class=draw(st.integers(0, 2)),
        gpus=draw(st.integers(0, 8)),
        metadata_uri="",
        registered_block=1,
        updated_block=1,
        active=draw(stakes),
        unbonding=draw(stakes),
        jailed=jailed,
        jailed_until=draw(st.just(0) | instants(clock)) if jailed else draw(st.sampled_from([0, 0, GENESIS])),
        tombstoned=draw(st.booleans()) and draw(st.booleans()),
        recovery_path=draw(st.sampled_from([0, 0, 1, 2, 3])),
        recovery_stage=draw(st.integers(0, 4)),
        reinstated_at=draw(st.none() | instants(clock)),
        probation_epochs=draw(st.sampled_from([0, 0, 1, 2, 3]) | st.integers(0, 52)),
    )


@st.composite
def states(draw: st.DrawFn) -> tuple[list[ProviderRow], int, EpochClock | None]:
    clock = draw(clocks)
    rows = [draw(provider_rows(n, clock)) for n in range(draw(st.integers(1, 12)))]
    c = clock or EpochClock(0, 1)
    # Often exactly where some row's probation ends.
    ends = [
        c.start_of(c.epoch_at(r.reinstated_at) + r.probation_epochs) + d
        for r in rows
        if r.reinstated_at is not None
        for d in (-1, 0, 1)
    ]
    now = draw(st.sampled_from(ends) if ends and draw(st.booleans()) else instants(clock))
    return rows, now, clock


def selected(engine: Engine, status: str, now: int, clock: EpochClock | None) -> set[str]:
    with engine.connect() as conn:
        query = select(t.providers.c.address).where(status_condition(status, now, clock))
        return {r.address for r in conn.execute(query)}


def check(engine: Engine, rows: list[ProviderRow], now: int, clock: EpochClock | None) -> None:
    with engine.begin() as conn:
        conn.execute(delete(t.providers))
        conn.execute(t.providers.insert(), [row_dict(r) for r in rows])
    with engine.connect() as conn:  # the rows as the database stores and returns them
        stored = [row_from(ProviderRow, r) for r in conn.execute(select(t.providers)).mappings()]
    assert sorted(stored, key=lambda r: r.address) == sorted(rows, key=lambda r: r.address)
    for status in STATUSES:
        want = {r.address for r in rows if provider_status(r, now, clock or EpochClock(0, 1))[0] == status}
        assert selected(engine, status, now, clock) == want, (status, now, clock)
