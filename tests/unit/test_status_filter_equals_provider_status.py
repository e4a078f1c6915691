"""The listing's `?status=` filter is SQL; `staking.domain.status.provider_status` is the one
definition of a status. For generated provider rows, times and epoch clocks (or none yet), the
filter for each status selects exactly the rows whose Python status is that status — probation's
epoch arithmetic, expired and indefinite jails, tombstones over everything included."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import Engine

from staking.db.engine import make_engine, upgrade
from tests.support.status_states import check, states

pytestmark = pytest.mark.unit


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
