"""The transaction manager's records on a SQLite file (unit: no sockets): nonces reconciled and
taken in order, writes refused to a deposed leader, and what every process reads about intents
stuck at the fee cap."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from staking.db import schema as t
from staking.db.engine import make_engine, upgrade
from staking.db.lock import Fence, LostLeadership
from staking.txmanager.store import IntentStore, fee_cap_readiness, fee_capped_by_kind, fee_capped_isolations

pytestmark = pytest.mark.unit

SIGNER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
TO = "0x" + "5f" * 20
GWEI = 10**9


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path}/swarm.db"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def plan(store: IntentStore, key: str, n: int = 0) -> int:
    with store.write() as conn:
        nonce = store.take_nonce(conn)
        iid = store.insert_intent(conn, key, nonce, TO, "0x", 21_000, 1_000)
        store.add_attempt(conn, iid, "0x" + f"{iid:064x}", "0x02raw", 3 * GWEI, GWEI, 1_000 + n)
    return iid


def lease(engine: Engine, term: int, holder: str) -> None:
    with engine.begin() as conn:
        conn.execute(t.leader_leases.delete())
        conn.execute(
            t.leader_leases.insert().values(
                name="worker", holder=holder, term=term, acquired_at=0, renewed_at=0, expires_at=10**13
            )
        )


def test_the_next_nonce_is_the_highest_of_the_table_the_intents_and_the_chain(engine: Engine) -> None:
    store = IntentStore(engine, SIGNER)
    with store.write() as conn:
        assert store.reconcile_nonce(conn, chain_next=4) == 4
    assert [store.state_of(plan(store, f"jail:{i}")) for i in range(2)] == ["planned", "planned"]
    with store.write() as conn:
        assert store.reconcile_nonce(conn, chain_next=0) == 6  # the table is ahead of the chain
        assert store.reconcile_nonce(conn, chain_next=9) == 9


def test_a_nonce_is_taken_only_after_reconciliation(engine: Engine) -> None:
    store = IntentStore(engine, SIGNER)
    with pytest.raises(RuntimeError, match="reconcile"), store.write() as conn:
        store.take_nonce(conn)


def test_intents_keep_their_nonces_keys_and_latest_attempt(engine: Engine) -> None:
    store = IntentStore(engine, SIGNER)
    with store.write() as conn:
        store.reconcile_nonce(conn, 0)
    a, b = plan(store, "jail:a"), plan(store, "propose_slash:b", 1)
    assert store.ids_for_keys(["jail:a", "propose_slash:b", "jail:none"]) == {
        "jail:a": a,
        "propose_slash:b": b,
    }
    intent = store.intent_by_key("propose_slash:b")
    assert intent is not None and (intent["nonce"], intent["attempts"]) == (1, 1)
    assert [i["id"] for i in store.open_intents()] == [a, b]
    assert store.attempt(intent["tx_hash"])["max_fee"] == 3 * GWEI
    with store.write() as conn:
        assert set(store.payloads(conn, [a, b])) == {a, b}
        store.set(conn, a, state="confirmed", mined_block=10, mined_block_hash="0x" + "bb" * 32)
        store.set(conn, b, state="sent")
    assert [i["id"] for i in store.open_intents()] == [b]
    assert store.waiting_ids() == [b]
    assert [r["id"] for r in store.recent_confirmed(head=20, window=64)] == [a]
    assert store.recent_confirmed(head=100, window=64) == []


def test_a_deposed_leader_cannot_take_a_nonce_or_record_anything(engine: Engine) -> None:
    lease(engine, 1, "host:1:old")
    lost: list[bool] = []
    store = IntentStore(engine, SIGNER, Fence("worker", 1, "host:1:old", on_lost=lambda: lost.append(True)))
    with store.write() as conn:
        store.reconcile_nonce(conn, 0)
    iid = plan(store, "jail:first")
    lease(engine, 2, "host:2:new")
    with pytest.raises(LostLeadership), store.write() as conn:
        store.take_nonce(conn)
    for write in (
        lambda conn: store.set(conn, iid, state="sent"),
        lambda conn: store.mark_fee_capped(conn, iid, 5),
        lambda conn: store.payloads(conn, [iid]),
    ):
        with pytest.raises(LostLeadership), store.write() as conn:
            write(conn)
    assert lost == [True] * 4
    with engine.connect() as conn:
        assert conn.execute(select(t.signer_nonces.c.next_nonce)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(t.tx_attempts)).scalar_one() == 1
    assert store.state_of(iid) == "planned" and store.intent_by_key("jail:first")["fee_capped_ms"] is None  # type: ignore[index]


def test_the_fence_is_read_once_per_transaction(engine: Engine) -> None:
    lease(engine, 1, "host:1:a")
    checks: list[int] = []

    class CountingFence(Fence):
        def check(self, conn: object) -> None:
            checks.append(1)
            super().check(conn)  # type: ignore[arg-type]

    store = IntentStore(engine, SIGNER, CountingFence("worker", 1, "host:1:a"))
    with store.write() as conn:
        store.reconcile_nonce(conn, 0)
        store.take_nonce(conn)
        store.take_nonce(conn)
    assert checks == [1]
    plan(store, "jail:x")
    assert checks == [1, 1]


def test_isolations_stuck_at_the_fee_cap_are_listed_for_readiness(engine: Engine) -> None:
    store = IntentStore(engine, SIGNER)
    with store.write() as conn:
        store.reconcile_nonce(conn, 0)
    jail, slash, done = plan(store, "jail:0xaa"), plan(store, "propose_slash:0xbb"), plan(store, "jail:0xcc")
    with engine.connect() as conn:
        assert fee_capped_isolations(conn) == [] and fee_capped_by_kind(conn) == {}
        assert fee_cap_readiness(conn) == ({"status": "ok"}, None)
    with store.write() as conn:
        store.set(conn, jail, state="sent", sent_ms=2_000)
        assert store.mark_fee_capped(conn, jail, 5_000)
        assert not store.mark_fee_capped(conn, jail, 6_000)  # recorded once: the first time counts
        store.mark_fee_capped(conn, slash, 5_000)
        store.mark_fee_capped(conn, done, 5_000)
        store.set(conn, done, state="confirmed")  # closed: no longer stuck
    with engine.connect() as conn:
        stuck = fee_capped_isolations(conn)
        assert stuck == [
            {
                "key": "jail:0xaa",
                "verdict_id": "0xaa",
                "signer": SIGNER,
                "nonce": 0,
                "state": "sent",
                "tx_hash": "0x" + f"{jail:064x}",
                "max_fee": 3 * GWEI,
                "priority_fee": GWEI,
                "created_ms": 1_000,
                "sent_ms": 2_000,
                "fee_capped_ms": 5_000,
            }
        ]
        assert fee_capped_by_kind(conn) == {"jail": 1, "propose_slash": 1}
        check, failure = fee_cap_readiness(conn)
    assert check["status"] == "degraded" and check["isolations_total"] == 1
    assert failure is not None and "jail:0xaa (nonce 0)" in failure
