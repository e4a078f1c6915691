"""Scale-out: any number of `serve --role worker` processes on one database, exactly one leading.

A standby takes over when the leader steps down or its lock session dies, metrics show each role's
leader and term, and a deposed leader can never plan, sign or record a transaction nor move the
indexer's checkpoint, because every write-ahead transaction checks the lease's term (fencing).
The takeovers of whole processes, killed or hung, are in tests/e2e/test_worker_leader_failover.py."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from sqlalchemy import func, select, text

from staking.db import schema as t
from staking.db.engine import make_engine
from staking.db.lock import Fence, LostLeadership, role_lock
from staking.devnet.accounts import SERVICE, devnet_account
from staking.txmanager.manager import TxConfig, TxManager
from staking.worker.leader import Leadership, LeaseConfig, new_holder, role_engine
from tests.support.chain import Chain
from tests.support.leadership import LEASE, lease_row, wait_for

pytestmark = pytest.mark.integration


class Candidate:
    """One process's `Leadership` of a role, run in a thread of this test process."""

    def __init__(self, url: str, name: str = "worker", poll: float = 0.2) -> None:
        self.holder = new_holder()
        self.engine = role_engine(url, name, self.holder)
        self.leadership = Leadership(self.engine, name, LeaseConfig(seconds=LEASE, poll=poll), self.holder)
        self.stop = threading.Event()
        self.fences: list[Fence] = []
        self.lead_stops: list[threading.Event] = []
        self.thread = threading.Thread(target=self.leadership.run, args=(self.stop, self._lead), daemon=True)

    def _lead(self, fence: Fence, lead_stop: threading.Event) -> None:
        self.fences.append(fence)
        self.lead_stops.append(lead_stop)
        lead_stop.wait()

    @property
    def leading(self) -> bool:
        return bool(self.lead_stops) and not self.lead_stops[-1].is_set()

    def __enter__(self) -> Candidate:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)
        self.engine.dispose()


@pytest.mark.integration
def test_a_second_candidate_stands_by_and_takes_over_when_the_leader_steps_down(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="leader")
    engine = make_engine(db_url)
    with Candidate(db_url) as a:
        wait_for("a leads", lambda: a.leading, 5)
        assert lease_row(engine).holder == a.holder and lease_row(engine).term == 1
        with Candidate(db_url) as b:
            wait_for("b announces the leader", lambda: f"leader is {a.holder}" in caplog.text, 5)
            renewed = lease_row(engine).renewed_at
            time.sleep(LEASE)  # a renews: b never leads while a does
            assert not b.fences and a.leading
            assert lease_row(engine).renewed_at > renewed and lease_row(engine).term == 1
            a.stop.set()  # graceful: a ends its lease and frees the lock
            took = wait_for("b takes over", lambda: b.leading, 5)
            lease = lease_row(engine)
            assert (lease.holder, lease.term) == (b.holder, 2)
            assert b.fences[0].term == 2
            assert took < 1.0  # one poll of the standby, not a lease
    assert caplog.text.count(f"standing by: worker leader is {a.holder}") == 1  # logged once


@pytest.mark.integration
def test_metrics_show_whether_each_role_has_a_live_leader_and_its_term(db_url: str) -> None:
    from staking.metrics import metrics_registry, render

    engine = make_engine(db_url)

    def scrape() -> str:
        return render(metrics_registry(engine)).decode()

    before = scrape()
    assert 'swarm_worker_leader{role="worker"} 0.0' in before
    assert 'swarm_worker_leader{role="indexer"} 0.0' in before
    assert "swarm_leader_term{" not in before
    with Candidate(db_url) as a:
        wait_for("a leads", lambda: a.leading, 5)
        during = scrape()
        assert 'swarm_worker_leader{role="worker"} 1.0' in during
        assert 'swarm_leader_term{role="worker"} 1.0' in during
    after = scrape()  # a stepped down: its lease ended, the term stays
    assert 'swarm_worker_leader{role="worker"} 0.0' in after
    assert 'swarm_leader_term{role="worker"} 1.0' in after


@pytest.mark.integration
@pytest.mark.parametrize("ended", ["the lock session", "every session"])
def test_a_leader_whose_lock_session_dies_steps_down_and_the_standby_takes_over(
    pg_url: str, ended: str
) -> None:
    """What a PostgreSQL restart does (every session dies, both candidates race for the lock),
    simulated without restarting the server: the leader's next renewal fails and it stops its
    role at once; one of them wins the lock and the next term; the old term's fence refuses. Ending
    only the lock session is the harder case: the old leader's other sessions still work."""
    engine = make_engine(pg_url)
    with Candidate(pg_url) as a, Candidate(pg_url) as b:
        wait_for("someone leads", lambda: a.leading or b.leading, 5)
        leader, standby = (a, b) if a.leading else (b, a)
        old = lease_row(engine)
        assert old.holder == leader.holder and old.backend_pid is not None
        with engine.connect() as conn:
            if ended == "the lock session":
                ok = conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": old.backend_pid}).scalar()
            else:
                ok = conn.execute(
                    text(
                        "SELECT bool_and(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).scalar()
            assert ok
        stepped_down = wait_for("the leader stops its role", lambda: leader.lead_stops[0].is_set(), LEASE)
        assert stepped_down <= LEASE / 3 + 1.0  # the next renewal, through the dead session
        wait_for("a new term", lambda: lease_row(engine).term == old.term + 1, LEASE + 2)
        new = lease_row(engine)
        winner = a if new.holder == a.holder else b
        assert winner.leading and winner.fences[-1].term == new.term
        # The old term's fence refuses, whoever won the race (the old leader may win it again).
        with pytest.raises(LostLeadership), engine.begin() as conn:
            leader.fences[0].check(conn)
        assert standby.thread.is_alive() and leader.thread.is_alive()  # both still candidates


@pytest.mark.integration
def test_a_role_that_does_not_stop_after_losing_its_lease_fails_the_process(db_url: str) -> None:
    engine = make_engine(db_url)
    holder = new_holder()
    config = LeaseConfig(seconds=LEASE, poll=0.2, stop_timeout=1.0)
    leadership = Leadership(role_engine(db_url, "worker", holder), "worker", config, holder)
    errors: list[BaseException] = []
    elected = threading.Event()

    def stubborn(fence: Fence, lead_stop: threading.Event) -> None:
        elected.set()
        time.sleep(LEASE * 3)  # ignores lead_stop

    def run() -> None:
        try:
            leadership.run(threading.Event(), stubborn)
        except BaseException as exc:
            errors.append(exc)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    assert elected.wait(5)
    with engine.begin() as conn:  # another process's term begins (as after a takeover)
        conn.execute(t.leader_leases.update().values(holder="elsewhere:1:x", term=t.leader_leases.c.term + 1))
    runner.join(LEASE / 3 + config.stop_timeout + 3)
    assert not runner.is_alive() and errors
    assert "did not stop" in str(errors[0])


@pytest.mark.integration
def test_a_takeover_waits_for_fenced_writes_in_flight_and_renewals_do_not(pg_url: str) -> None:
    """The fence reads the lease FOR KEY SHARE: a takeover (FOR UPDATE) cannot slip between a
    deposed leader's fence check and its commit; a renewal (an UPDATE of non-key columns) can."""
    engine = make_engine(pg_url)
    first, second = role_lock(engine, "worker"), role_lock(engine, "worker")
    lease = first.take_lease("host:1:aaaa", 3000)
    fence = Fence("worker", lease.term, "host:1:aaaa")
    done: list[float] = []
    with engine.begin() as conn:
        fence.check(conn)  # the fenced write-ahead transaction is open ...
        t0 = time.monotonic()
        assert first.renew("host:1:aaaa", lease.term, 3000) is not None  # ... renewals pass at once
        assert time.monotonic() - t0 < 1.0
        taker = threading.Thread(target=lambda: (second.take_lease("host:2:bbbb", 3000), done.append(1)))
        taker.start()
        time.sleep(0.5)
        assert not done, "the takeover did not wait for the fenced transaction in flight"
    taker.join(5)
    assert done and lease_row(engine).term == lease.term + 1
    with pytest.raises(LostLeadership), engine.begin() as conn:
        fence.check(conn)
    first.close()
    second.close()


@pytest.mark.integration
def test_a_deposed_transaction_manager_cannot_plan_sign_or_record(db_url: str, chain: Chain) -> None:
    engine = make_engine(db_url)
    lock = role_lock(engine, "worker")
    old = lock.take_lease("host:1:old", 60_000)
    lost = threading.Event()
    txm = TxManager(
        engine,
        chain.w3,
        devnet_account(SERVICE),
        TxConfig(stuck_after=0),
        error_name=chain.staking.error_name,
        fence=Fence("worker", old.term, "host:1:old", on_lost=lost.set),
    )
    txm.reconcile()
    v, sig = chain.signed(chain.providers[0])
    first = txm.submit("jail:first", chain.staking.jail(v, sig, 0))  # the leader's term: sent

    lock.take_lease("host:2:new", 60_000)  # another process took over (term + 1)

    def counts() -> tuple[int, int, int]:
        with engine.connect() as conn:
            return (
                conn.execute(select(func.count()).select_from(t.tx_intents)).scalar_one(),
                conn.execute(select(func.count()).select_from(t.tx_attempts)).scalar_one(),
                conn.execute(select(t.signer_nonces.c.next_nonce)).scalar_one(),
            )

    before = counts()
    v2, sig2 = chain.signed(chain.providers[1])
    with pytest.raises(LostLeadership):
        txm.submit("jail:second", chain.staking.jail(v2, sig2, 0))  # plan: no nonce, no signature
    assert lost.is_set()  # the leader is told to stop at once
    intent = txm.intent_for("jail:first")
    assert intent is not None and intent["id"] == first
    with pytest.raises(LostLeadership):
        txm.tracker.replace(intent)  # re-sign the stuck transaction with bumped fees
    with pytest.raises(LostLeadership):
        txm.dispatcher.send([first])  # record a send
    assert counts() == before, "the deposed manager wrote a nonce, an intent or a signed payload"
    assert txm.intent_for("jail:first") == intent
    assert txm.intent_for("jail:second") is None
    lock.close()


@pytest.mark.integration
def test_a_deposed_indexer_cannot_move_the_checkpoint(db_url: str, chain: Chain) -> None:
    from indexer.runner import Indexer

    engine = make_engine(db_url)
    lock = role_lock(engine, "indexer")
    old = lock.take_lease("host:1:old", 60_000)
    lost = threading.Event()
    fence = Fence("indexer", old.term, "host:1:old", on_lost=lost.set)
    indexer = Indexer(engine, chain.w3, chain.deployment, fence=fence.check)
    indexer.run(exit_at_head=True)  # the leader's term: indexed to the head
    before = indexer.store.checkpoint()

    lock.take_lease("host:2:new", 60_000)  # another process took over (term + 1)
    chain.rpc("evm_mine")
    with pytest.raises(LostLeadership):
        indexer.run(exit_at_head=True)
    assert lost.is_set()
    assert indexer.store.checkpoint() == before, "the deposed indexer moved the checkpoint"
    lock.close()
