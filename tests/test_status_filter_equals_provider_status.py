"""The listing's `?status=` filter is SQL; `staking.domain.status.provider_status` is the one
definition of a status. For generated provider rows, times and epoch clocks (or none yet), the
filter for each status selects exactly the rows whose Python status is that status — probation's
epoch arithmetic, expired and indefinite jails, tombstones over everything included."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, select

from indexer.projection import ProviderRow, row_dict, row_from
from staking.db import schema as t
from staking.db.engine import make_engine, upgrade
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


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path_factory.mktemp('status')}/swarm.db"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.mark.unit
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(state=states())
def test_the_sql_status_filter_selects_exactly_the_rows_of_that_status_on_sqlite(
    sqlite_engine: Engine, state: Any
) -> None:
    check(sqlite_engine, *state)


@pytest.mark.integration
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite: the unit test above
def test_the_sql_status_filter_selects_exactly_the_rows_of_that_status_on_postgresql(db_url: str) -> None:
    engine = make_engine(db_url)

    @settings(max_examples=60, deadline=None)
    @given(state=states())
    def run(state: Any) -> None:
        check(engine, *state)

    try:
        run()
    finally:
        engine.dispose()
