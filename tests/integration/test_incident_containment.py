"""What is on chain to undo for verdicts judged wrong (`staking.intake.containment`), against the
indexed devnet on SQLite and PostgreSQL: the pending slashes they proposed are vetoed (unless the
veto window is over), and a jail is lifted only when nothing else holds it — not another verdict's
jail in force or in flight; a timed one that ran out does not count; tombstoned and already freed
providers are left alone."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from indexer.runner import Indexer
from staking.db import schema as t
from staking.domain.vocabulary import EventType, Severity
from staking.intake.containment import undo_plan
from staking.verdict import Verdict, to_wire
from tests.support.intake import Api

pytestmark = pytest.mark.integration


def verdict(
    api: Api, provider: str, event_type: EventType = EventType.SECURITY_BREACH
) -> tuple[Verdict, bytes]:
    v, sig = api.chain.signed(provider, event_type=event_type, severity=Severity.HIGH)
    assert api.client.post("/v1/verdicts", json=to_wire(v, sig)).status_code == 202
    return v, sig


def mark(api: Api, v: Verdict, kind: str, state: str) -> None:
    a = t.actions.c
    with api.engine.begin() as conn:
        conn.execute(
            update(t.actions).where(a.verdict_id == "0x" + v.id.hex(), a.kind == kind).values(state=state)
        )


def jail(api: Api, v: Verdict, sig: bytes, until: int = 0) -> None:
    api.chain.tx(api.chain.staking.jail(v, sig, until), api.chain.service)
    mark(api, v, "jail", "confirmed")


def test_the_undo_plan_vetoes_their_pending_slashes_and_lifts_only_the_jails_resting_on_them(
    api: Api,
) -> None:
    c, s = api.chain, api.chain.staking
    p = c.providers
    wrong = [verdict(api, p[i]) for i in range(6)]
    for v, sig in wrong[:5]:
        jail(api, v, sig)
    # p0: only the wrong verdict. p1: a timed jail of another verdict as well (one day).
    timed, timed_sig = verdict(api, p[1], EventType.OPERATIONAL_FAILURE)
    jail(api, timed, timed_sig, until=c.now() + 86_400)
    # p2: another verdict's jail is in flight. p3: tombstoned since. p4: set free since.
    other, _ = verdict(api, p[2])
    mark(api, other, "jail", "submitted")
    c.tx(s.tombstone(p[3], b"\x01" * 32), c.governance)
    c.tx(s.lift_jails([p[4]], b"\x02" * 32), c.governance)
    # p5: jailed by the wrong verdict, not indexed yet (the jail below lands after indexing).
    # Slashes: p0's proposed and pending; p1's proposed, its veto window soon over.
    c.tx(s.propose_slash(wrong[0][0], wrong[0][1], 500), c.service)
    c.tx(s.propose_slash(wrong[1][0], wrong[1][1], 500), c.service)
    for v, _ in wrong[:2]:
        mark(api, v, "propose_slash", "confirmed")
    Indexer(api.engine, c.w3, c.deployment).run(exit_at_head=True)
    jail(api, *wrong[5])

    ids = ["0x" + v.id.hex() for v, _ in wrong]
    query = select(t.verdicts.c.id).where(t.verdicts.c.id.in_(ids))
    with api.engine.connect() as conn:
        now = c.now()
        plan = undo_plan(conn, query, now)
        later = undo_plan(conn, query, now + 86_400 + 60)  # p1's timed jail has run out
    assert [x.id for x in plan.vetoes] == sorted(ids[:2])
    assert sum(x.amount or 0 for x in plan.vetoes) == plan.veto_amount > 0
    assert plan.lifts == tuple(sorted([p[0], p[5]]))
    assert plan.kept_jailed == tuple(sorted([p[1], p[2]]))
    assert plan.in_flight == 0  # the in-flight jail is another verdict's
    assert set(later.lifts) == {p[0], p[1], p[5]} and later.kept_jailed == (p[2],)
    assert s.veto_window() < 86_400
    assert {x.id for x in later.too_late} == set(ids[:2]) and later.vetoes == ()  # after the window
