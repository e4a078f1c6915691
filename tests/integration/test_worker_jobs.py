"""Scheduled jobs: matured slashes are executed once, vetoed and immature ones never."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from indexer.runner import Indexer
from staking.db import schema as t
from staking.db.engine import make_engine
from staking.devnet.accounts import devnet_account
from staking.domain.vocabulary import EventType
from staking.intake.results import Accepted
from staking.intake.service import IntakeService
from staking.policy import load_policy
from staking.txmanager.manager import TxConfig, TxManager
from staking.verdict import to_wire
from staking.worker.executor import ActionExecutor
from staking.worker.jobs import execute_matured_slashes
from tests.support.chain import Chain

pytestmark = pytest.mark.integration


def test_matured_slashes_are_executed_once_and_vetoed_or_immature_ones_never(
    db_url: str, chain: Chain
) -> None:
    engine = make_engine(db_url)
    s = chain.staking
    matured, vetoed, young = (chain.signed(chain.providers[i]) for i in (0, 1, 2))
    for v, sig in (matured, vetoed):
        chain.tx(s.propose_slash(v, sig, 1000), chain.service)
    chain.tx(s.veto_slash(vetoed[0].id, b"\x01" * 32), chain.governance)
    chain.advance(s.veto_window() + 1)
    chain.tx(s.propose_slash(young[0], young[1], 1000), chain.service)  # window still open
    Indexer(engine, chain.w3, chain.deployment).run(exit_at_head=True)

    txm = TxManager(engine, chain.w3, devnet_account(1), TxConfig(), error_name=s.error_name)
    txm.reconcile()
    assert execute_matured_slashes(engine, s, txm) == 1
    txm.tick()
    assert s.slash_state(matured[0].id) == 3
    assert s.slash_state(vetoed[0].id) == 2 and s.slash_state(young[0].id) == 1
    # Running again before the indexer saw the execution submits nothing new (one intent per slash).
    assert execute_matured_slashes(engine, s, txm) == 0


def test_a_verdict_ahead_of_the_chain_clock_waits_for_it_instead_of_failing(
    db_url: str, chain: Chain
) -> None:
    """A detector's clock runs ahead of the latest block's timestamp by up to a block interval:
    the contract says VerdictFromFuture until the next block, which must not fail the action."""
    engine = make_engine(db_url)
    Indexer(engine, chain.w3, chain.deployment).run(exit_at_head=True)
    s = chain.staking
    intake = IntakeService(
        engine,
        s.domain(),
        lambda a: True,
        load_policy(),
        max_age=s.max_verdict_age(),
        clock=lambda: float(chain.now() + 20),
    )
    v, sig = chain.signed(
        chain.providers[0], event_type=EventType.SECURITY_BREACH, detected_at=chain.now() + 15
    )
    outcome = intake.submit(to_wire(v, sig))
    assert isinstance(outcome, Accepted), outcome
    txm = TxManager(engine, chain.w3, devnet_account(1), TxConfig(), error_name=s.error_name)
    txm.reconcile()
    executor = ActionExecutor(engine, s, txm)
    executor.step()
    with engine.connect() as conn:
        states = {r.kind: r.state for r in conn.execute(select(t.actions.c.kind, t.actions.c.state))}
    assert states["jail"] == "pending", states
    chain.advance(30)
    for _ in range(3):
        executor.step()
    with engine.connect() as conn:
        states = {r.kind: r.state for r in conn.execute(select(t.actions.c.kind, t.actions.c.state))}
    assert states["jail"] == "confirmed" and s.is_jailed(chain.providers[0]), states


def test_a_second_recovery_for_a_provider_waits_for_the_first_to_settle_then_is_skipped(
    db_url: str, chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two breaches of one provider both ask for a security review; the provider has one recovery
    at a time. The second waits until the first has been confirmed for a while (a shallow reorg
    could still take the first away, and a second sent in that moment would revert), then
    simulates as RecoveryOpen and is skipped. One that reverted on chain anyway, while the
    recovery is open, is skipped too rather than failing its verdict."""
    import staking.worker.executor as executor_module

    engine = make_engine(db_url)
    Indexer(engine, chain.w3, chain.deployment).run(exit_at_head=True)
    s = chain.staking
    intake = IntakeService(
        engine,
        s.domain(),
        lambda a: True,
        load_policy(),
        max_age=s.max_verdict_age(),
        clock=lambda: float(chain.now()),
    )
    provider = chain.providers[0]
    first, second = (
        chain.signed(provider, event_type=EventType.SECURITY_BREACH, detected_at=chain.now() - k)
        for k in (2, 1)
    )
    for v, sig in (first, second):
        assert isinstance(intake.submit(to_wire(v, sig)), Accepted)
    txm = TxManager(engine, chain.w3, devnet_account(1), TxConfig(), error_name=s.error_name)
    txm.reconcile()
    executor = ActionExecutor(engine, s, txm)

    def recovery_states() -> dict[str, str]:
        with engine.connect() as conn:
            rows = conn.execute(
                select(t.actions.c.verdict_id, t.actions.c.state).where(t.actions.c.kind == "begin_recovery")
            )
            return {r.verdict_id: r.state for r in rows}

    ids = ["0x" + first[0].id.hex(), "0x" + second[0].id.hex()]
    for _ in range(6):
        executor.step()
        txm.tick()
    states = recovery_states()
    assert sorted(states.values()) == ["confirmed", "pending"], states  # one goes, one waits
    assert s.provider(provider).recovery_path != 0
    waiting = next(v for v in ids if states[v] == "pending")
    monkeypatch.setattr(executor_module, "RECOVERY_SETTLE_S", 0)  # the first is now settled
    for _ in range(3):
        executor.step()
    assert recovery_states()[waiting] == "skipped"

    # The safety net: a beginRecovery that reverted on chain while the recovery is open.
    with engine.begin() as conn:
        intent = (
            conn.execute(select(t.tx_intents).where(t.tx_intents.c.state == "confirmed")).mappings().first()
        )
        assert intent is not None
        copy = {k: v for k, v in intent.items() if k != "id"}
        copy.update(
            idempotency_key="begin_recovery:reverted", state="failed", error="reverted on chain", nonce=10_000
        )
        iid = conn.execute(t.tx_intents.insert().values(**copy)).inserted_primary_key[0]
        conn.execute(
            t.actions.update()
            .where(t.actions.c.verdict_id == waiting, t.actions.c.kind == "begin_recovery")
            .values(state="submitted", intent_id=iid)
        )
    executor.step()
    assert recovery_states()[waiting] == "skipped"
    with engine.connect() as conn:
        assert (
            conn.execute(select(t.verdicts.c.status).where(t.verdicts.c.id == waiting)).scalar() != "failed"
        )
