"""Containing a rogue detector (`staking.worker.containment` and `staking.worker.revoke`, SPEC
section 8) on the devnet, on SQLite and on PostgreSQL: the plan read from the service database,
then executed: the service refuses the detector at once, its role is revoked on chain, its unsent
actions are cancelled, and what rests only on its verdicts is vetoed and lifted, while what
another detector also signed stays. The indexer has not seen the jails and slashes yet: the
containment must not wait for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from staking.db import schema as t
from staking.db.engine import make_engine
from staking.devnet.accounts import GOVERNANCE, devnet_account
from staking.domain.vocabulary import SlashState
from staking.intake.results import Rejected, Rejection
from staking.verdict import to_wire
from staking.worker.containment import plan_revocation
from staking.worker.revoke import Options, contain
from tests.support.chain import Chain
from tests.support.containment import Rogue, vid

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def test_revoking_a_rogue_detector_undoes_what_rests_only_on_its_verdicts(
    chain: Chain, engine: Engine
) -> None:
    scene = Rogue(chain, engine).build(index_after=False)
    rogue, p = scene.rogue.address, scene.providers
    ids = {name: vid(v) for name, v in scene.verdicts.items()}
    plan = plan_revocation(engine, rogue, chain.now() * 1000)

    assert plan.own == {ids["P0"], ids["P1"], ids["P2"], ids["P1 unsent"]} and plan.cosigned == 1
    assert plan.holds_role and plan.revoked_ms is None
    assert {s.id for s in plan.slashes} == {ids["P0"], ids["P1"], ids["P2"]}
    assert all(s.amount is None for s in plan.slashes), "not indexed yet: amounts unknown"
    assert set(plan.jails) == {p[0], p[1]} and plan.kept == (p[2],)
    assert set(plan.cancel_kinds) >= {"jail", "propose_slash"} and plan.touched_by_cancel == {
        ids["P1 unsent"]
    }

    amounts = {name: scene.slash_amount(name) for name in ("P0", "P1", "P2")}
    governance = devnet_account(GOVERNANCE)
    outcome = contain(
        engine,
        chain.w3,
        chain.staking,
        governance,
        plan,
        Options(True, True, "rogue model push", governance.address),
    )

    # On chain: the role, the slashes and the jails.
    s = chain.staking
    assert not s.has_role("DETECTOR_ROLE", rogue)
    assert [scene.slash_state(n) for n in ("P0", "P1", "P2")] == [SlashState.VETOED] * 3
    assert (
        scene.slash_state("P3") == SlashState.PENDING and scene.slash_state("P2 honest") == SlashState.PENDING
    )
    assert [s.is_jailed(x) for x in p[:4]] == [False, False, True, True]
    assert s.provider(p[0]).recovery_path == 0, "the recovery the rogue's jail opened is closed too"
    # What the outcome says.
    assert outcome.role_revoked and set(outcome.vetoed) == {ids["P0"], ids["P1"], ids["P2"]}
    assert outcome.vetoed_amount == sum(amounts.values()) > 0
    assert set(outcome.lifted) == {p[0], p[1]}
    # In the database: the revocation, the cancelled actions, the discounted verdicts.
    with engine.connect() as conn:
        row = conn.execute(select(t.detector_revocations)).one()
    assert (row.account, row.revoked_by, row.note) == (rogue, governance.address, "rogue model push")
    assert outcome.revoked_ms == row.revoked_ms
    unsent = scene.action_states("P1 unsent")
    assert unsent and all(state == ("skipped", "detector revoked") for state in unsent.values())
    assert outcome.cancelled == len(unsent)
    assert [scene.status(n) for n in ("P0", "P1", "P2", "P1 unsent")] == ["rejected"] * 4
    assert scene.status("P3") != "rejected" and scene.status("P2 honest") != "rejected"

    # The intake refuses the detector from now on, the honest one still gets through.
    v, _ = chain.signed(p[4])
    refused = scene.intake.submit(to_wire(v, chain.sign(v, key=scene.rogue.key)))
    assert isinstance(refused, Rejected) and refused.reason is Rejection.NOT_A_DETECTOR
    assert "revoked by governance" in refused.detail
    scene.submit("P4 honest", 4, scene.honest)

    # Running it again changes nothing and sends nothing.
    nonce = chain.w3.eth.get_transaction_count(governance.address)
    again = contain(
        engine,
        chain.w3,
        chain.staking,
        governance,
        plan_revocation(engine, rogue, chain.now() * 1000),
        Options(True, True, "", governance.address),
    )
    assert (again.revoked_ms, again.cancelled, again.vetoed, again.lifted) == (row.revoked_ms, 0, [], [])
    assert again.receipts == [] and chain.w3.eth.get_transaction_count(governance.address) == nonce


def test_without_the_flags_only_the_role_goes_and_the_unsent_actions_are_cancelled(
    chain: Chain, engine: Engine
) -> None:
    scene = Rogue(chain, engine).build(index_after=True)
    rogue = scene.rogue.address
    plan = plan_revocation(engine, rogue, chain.now() * 1000)
    assert plan.at_stake == sum(scene.slash_amount(n) for n in ("P0", "P1", "P2")) > 0  # indexed now
    governance = devnet_account(GOVERNANCE)
    outcome = contain(engine, chain.w3, chain.staking, governance, plan, Options(revoked_by="cli"))
    assert not chain.staking.has_role("DETECTOR_ROLE", rogue)
    assert len(outcome.receipts) == 1 and outcome.vetoed == [] and outcome.lifted == []
    assert [scene.slash_state(n) for n in ("P0", "P1", "P2")] == [SlashState.PENDING] * 3
    assert chain.staking.is_jailed(scene.providers[0])
    assert scene.status("P1 unsent") == "rejected" and scene.status("P0") != "rejected"
