"""The recovery state machine answers as the contract does: every transition with its
precondition and the contract's error when refused, the text of the next step per path and stage,
and over any sequence of calls no recovery skips a stage or is reinstated before restoration."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from staking import recovery as m
from staking.domain.vocabulary import RecoveryPath, RecoveryStage
from staking.recovery import RecoveryRefused, RecoveryState, Refusal

pytestmark = pytest.mark.unit

P, S = RecoveryPath, RecoveryStage
NOW = 1_800_000_000
FREE = RecoveryState()
JAILED = RecoveryState(jailed=True, jailed_until=0)
TIMED = RecoveryState(jailed=True, jailed_until=NOW + 60)


def open_at(stage: RecoveryStage, path: RecoveryPath = P.SECURITY_REVIEW) -> RecoveryState:
    return RecoveryState(jailed=True, path=path, stage=stage)


def test_begin_opens_a_path_at_response_and_only_one_at_a_time() -> None:
    for path in (P.SERVICE_IMPROVEMENT, P.SECURITY_REVIEW, P.COMPLIANCE_VERIFICATION):
        assert m.begin(JAILED, path) == open_at(S.RESPONSE, path)
    assert m.begin(FREE, P.SERVICE_IMPROVEMENT).stage == S.RESPONSE  # no jail needed
    assert m.why_not_begin(open_at(S.RECOVERY), P.SERVICE_IMPROVEMENT) == Refusal.RECOVERY_OPEN
    assert m.why_not_begin(JAILED, P.NONE) == Refusal.INVALID_PATH
    assert m.why_not_begin(JAILED, 4) == Refusal.INVALID_PATH
    assert m.why_not_begin(RecoveryState(registered=False), 1) == Refusal.NOT_REGISTERED
    assert m.why_not_begin(m.tombstone(JAILED), 1) == Refusal.TOMBSTONED
    with pytest.raises(RecoveryRefused) as refused:
        m.begin(open_at(S.RESPONSE), P.SECURITY_REVIEW)
    assert refused.value.refusal == Refusal.RECOVERY_OPEN and "beginRecovery" in str(refused.value)


def test_advance_moves_one_stage_and_never_past_restoration() -> None:
    assert m.stage_after_advance(S.DETECTION) == S.RESPONSE
    assert m.stage_after_advance(S.RESPONSE) == S.RECOVERY
    assert m.stage_after_advance(S.RECOVERY) == S.RESTORATION
    for stage in (S.DETECTION, S.RESPONSE, S.RECOVERY):
        assert m.advance(open_at(stage)) == open_at(m.stage_after_advance(stage))
    assert m.why_not_advance(open_at(S.RESTORATION)) == Refusal.AT_FINAL_STAGE
    assert m.why_not_advance(JAILED) == Refusal.NO_RECOVERY_OPEN
    assert m.why_not_advance(RecoveryState(registered=False)) == Refusal.NOT_REGISTERED
    for stage in (S.NONE, S.RESTORATION):
        with pytest.raises(RecoveryRefused):
            m.stage_after_advance(stage)


def test_reinstate_closes_a_recovery_at_restoration_or_lifts_a_jail_without_one() -> None:
    assert m.reinstate(open_at(S.RESTORATION)) == FREE
    assert m.reinstate(JAILED) == FREE and m.reinstate(TIMED) == FREE
    for stage in (S.DETECTION, S.RESPONSE, S.RECOVERY):
        assert m.why_not_reinstate(open_at(stage)) == Refusal.INCOMPLETE
    assert m.why_not_reinstate(FREE) == Refusal.NOTHING_TO_REINSTATE
    assert m.why_not_reinstate(m.tombstone(JAILED)) == Refusal.TOMBSTONED
    assert m.why_not_reinstate(open_at(S.RESTORATION)) is None
    assert m.why_not_reinstate(open_at(S.RECOVERY)) is not None


def test_unjail_needs_an_expired_timed_jail_no_recovery_the_minimum_and_no_pause() -> None:
    expired = RecoveryState(jailed=True, jailed_until=NOW)
    assert m.unjail(expired, NOW, 10, 10) == FREE
    assert m.why_not_unjail(expired, NOW - 1, 10, 10) == Refusal.JAIL_NOT_EXPIRED
    assert m.why_not_unjail(JAILED, NOW, 10, 10) == Refusal.JAIL_NOT_EXPIRED  # until recovery
    assert m.why_not_unjail(expired, NOW, 9, 10) == Refusal.BELOW_MINIMUM
    assert m.why_not_unjail(expired, NOW, 10, 10, paused=True) == Refusal.PAUSED
    assert m.why_not_unjail(FREE, NOW, 10, 10) == Refusal.NOT_JAILED
    assert m.why_not_unjail(m.begin(expired, 1), NOW, 10, 10) == Refusal.RECOVERY_OPEN
    assert m.why_not_unjail(m.tombstone(expired), NOW, 10, 10) == Refusal.TOMBSTONED
    assert m.why_not_unjail(expired, NOW + 1, 11, 10) is None
    assert m.why_not_unjail(TIMED, NOW, 11, 10) is not None


def test_a_second_jail_keeps_the_longer_one_and_until_recovery_is_longest() -> None:
    assert m.jail(FREE, NOW) == RecoveryState(jailed=True, jailed_until=NOW)
    assert m.jail(TIMED, NOW + 120).jailed_until == NOW + 120
    assert m.jail(TIMED, NOW + 1).jailed_until == NOW + 60
    assert m.jail(TIMED, 0).jailed_until == 0
    assert m.jail(JAILED, NOW + 999).jailed_until == 0
    assert m.why_not_jail(m.tombstone(FREE)) == Refusal.TOMBSTONED


def test_a_tombstone_ends_everything() -> None:
    dead = m.tombstone(open_at(S.RECOVERY))
    assert dead == RecoveryState(tombstoned=True, jailed=True)
    assert m.why_not_begin(dead, 1) == Refusal.TOMBSTONED
    assert m.why_not_advance(dead) == Refusal.NO_RECOVERY_OPEN
    assert m.why_not_reinstate(dead) == Refusal.TOMBSTONED
    assert m.why_not_unjail(dead, NOW, 10, 0) == Refusal.TOMBSTONED
    assert m.why_not_tombstone(dead) == Refusal.TOMBSTONED
    assert m.jail_step(dead, NOW) is None


def test_the_next_step_names_who_acts_at_each_stage_of_each_path() -> None:
    for path in (P.SERVICE_IMPROVEMENT, P.SECURITY_REVIEW, P.COMPLIANCE_VERIFICATION):
        name = path.wire.replace("_", " ")
        assert m.next_step(path, S.DETECTION).endswith(
            f"moves the {name} to the response stage (advanceRecovery)"
        )
        assert f"advances the {name} to the recovery stage (advanceRecovery)" in m.next_step(path, S.RESPONSE)
        assert f"outcome of the {name}" in m.next_step(path, S.RECOVERY)
        assert m.next_step(path, S.RESTORATION).startswith("governance reinstates the provider (reinstate)")
    assert m.next_step(P.SECURITY_REVIEW, S.RESPONSE).startswith("the security team reviews")
    assert [m.next_command(s) for s in (S.DETECTION, S.RESPONSE, S.RECOVERY, S.RESTORATION)] == [
        "recovery advance (to response)",
        "recovery advance (to recovery)",
        "recovery advance (to restoration)",
        "recovery reinstate",
    ]


def test_the_way_out_of_a_jail_without_a_recovery() -> None:
    assert "beginRecovery" in (m.jail_step(JAILED, NOW) or "")
    waiting = m.jail_step(TIMED, NOW, shortfall=5)
    assert waiting == (
        "wait until the jail ends at 2027-01-15T08:01:00Z, "
        "then stake 5 more base units (to min_required), then call unjail()"
    )
    assert (m.jail_step(TIMED, NOW + 60, paused=True) or "").startswith("the jail expired at")
    assert (m.jail_step(TIMED, NOW + 60, paused=True) or "").endswith("waits until governance unpauses it)")
    assert m.jail_step(FREE, NOW) is None and m.jail_step(open_at(S.RESPONSE), NOW) is None


def test_state_of_reads_an_indexed_row_or_a_contract_record() -> None:
    from indexer.projection import ProviderRow

    row = ProviderRow("0x" + "1" * 40, 0, 1, "", 1, 1, jailed=True, recovery_path=2, recovery_stage=3)
    assert m.state_of(row) == open_at(S.RECOVERY)
    assert m.state_of(None) == m.state_of(row, registered=False) == RecoveryState(registered=False)


def test_the_machine_imports_only_the_domain() -> None:
    tree = ast.parse(Path(m.__file__).read_text())
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    modules |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    project = {x for x in modules if x.split(".")[0] in ("staking", "indexer")}
    assert project and all(x.startswith("staking.domain") for x in project), project


# ---- any sequence of calls

calls = st.one_of(
    st.tuples(st.just("jail"), st.sampled_from([0, NOW - 10, NOW + 10, NOW + 100])),
    st.tuples(st.just("begin"), st.integers(0, 4)),
    st.tuples(st.just("advance"), st.none()),
    st.tuples(st.just("reinstate"), st.none()),
    st.tuples(st.just("unjail"), st.sampled_from([(NOW, 10, 10), (NOW + 100, 10, 10), (NOW + 100, 9, 10)])),
    st.tuples(st.just("tombstone"), st.none()),
)


def step(s: RecoveryState, call: str, arg: object) -> tuple[Refusal | None, RecoveryState]:
    refusal = {
        "jail": lambda: m.why_not_jail(s),
        "begin": lambda: m.why_not_begin(s, arg),  # type: ignore[arg-type]
        "advance": lambda: m.why_not_advance(s),
        "reinstate": lambda: m.why_not_reinstate(s),
        "unjail": lambda: m.why_not_unjail(s, *arg),  # type: ignore[misc]
        "tombstone": lambda: m.why_not_tombstone(s),
    }[call]()
    move = {
        "jail": lambda: m.jail(s, arg),  # type: ignore[arg-type]
        "begin": lambda: m.begin(s, arg),  # type: ignore[arg-type]
        "advance": lambda: m.advance(s),
        "reinstate": lambda: m.reinstate(s),
        "unjail": lambda: m.unjail(s, *arg),  # type: ignore[misc]
        "tombstone": lambda: m.tombstone(s),
    }[call]
    if refusal is not None:
        with pytest.raises(RecoveryRefused) as refused:
            move()
        assert refused.value.refusal == refusal
        return refusal, s
    return None, move()


@settings(max_examples=400, deadline=None)
@given(st.lists(calls, max_size=30))
def test_no_sequence_of_calls_skips_a_stage_or_reinstates_early(sequence: list[tuple[str, object]]) -> None:
    s = FREE
    stages_seen: list[RecoveryStage] = []
    for call, arg in sequence:
        refusal, after = step(s, call, arg)
        if refusal is not None:
            assert after == s
            continue
        if after.stage != s.stage:
            if after.stage == S.NONE:  # closed: reinstated at restoration, or tombstoned
                assert s.stage == S.RESTORATION or after.tombstoned
                if not after.tombstoned:
                    assert stages_seen == [S.RESPONSE, S.RECOVERY, S.RESTORATION]
                stages_seen = []
            elif s.stage == S.NONE:
                assert call == "begin" and after.stage == S.RESPONSE
                stages_seen = [S.RESPONSE]
            else:
                assert call == "advance" and after.stage == s.stage + 1
                stages_seen.append(after.stage)
        if s.tombstoned:
            assert after.tombstoned and not after.is_open  # nothing undoes a tombstone
        assert (after.stage == S.NONE) == (after.path == P.NONE)
        if after.is_open or after.tombstoned:
            assert call != "unjail"
        s = after
