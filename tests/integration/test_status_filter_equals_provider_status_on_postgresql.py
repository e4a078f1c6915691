"""The listing's `?status=` filter, on PostgreSQL: for generated provider states it selects exactly
the rows `staking.domain.status.provider_status` gives that status (SQLite: tests/unit)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings

from staking.db.engine import make_engine
from tests.support.status_states import check, states

pytestmark = pytest.mark.integration


@pytest.mark.integration
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite: tests/unit
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
