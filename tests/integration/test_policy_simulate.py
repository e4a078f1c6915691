"""The simulator against what the service really recorded: generated histories go through the
real intake (tests/support/recorded_history.py: signed verdicts, its history query, its decisions
stored in SQLite), some verdicts rejected later as revocations and dismissals do; replaying the
recorded verdicts through the active policy gives exactly the recorded decisions, and simulating
it changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from staking.domain.vocabulary import EventType, Severity
from staking.policy import load_policy
from staking.policy.simulate import replay, simulate
from staking.readmodel.queries import snapshot
from staking.readmodel.verdict_history import bonded_stakes, recorded_verdicts
from tests.support.recorded_history import PROVIDERS, Step, migrated_template, record

pytestmark = pytest.mark.integration

POLICY = load_policy()

steps = st.builds(
    Step,
    st.sampled_from(PROVIDERS),
    st.sampled_from(list(EventType)),
    st.sampled_from(list(Severity)),
    st.integers(1, 4 * 86_400),
    st.integers(0, 600),
    st.booleans(),
)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_template(tmp_path_factory.mktemp("policy") / "template.db")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(steps, min_size=1, max_size=30))
def test_replaying_the_recorded_verdicts_gives_the_recorded_decisions(
    template: Path, tmp_path: Path, history: list[Step]
) -> None:
    engine, now = record(template, tmp_path / f"h{abs(hash(tuple(history))) % 10**9}.db", history, POLICY)
    with snapshot(engine) as conn:
        recorded = list(recorded_verdicts(conn))
        stakes = bonded_stakes(conn)
    engine.dispose()
    assert len(recorded) == len(history)
    assert [r.received_ms for r in recorded] == sorted(r.received_ms for r in recorded)
    assert replay(recorded, POLICY) == [r.recorded for r in recorded]
    result = simulate(recorded, POLICY, POLICY, stakes, now)
    assert result.changed == [] and result.standing_differs() == []
