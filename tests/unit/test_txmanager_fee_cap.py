"""A stuck isolation that cannot be bumped within the fee cap is not only logged: it is recorded
on the intent, announced once as a `tx_fee_capped` webhook, counted in `swarm_tx_fee_capped`, and
listed for `/readyz`; raising the cap lets it be replaced again. The manager runs against a
scripted node and a SQLite file (unit: no sockets)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from staking.db import schema as t
from staking.db.engine import make_engine, upgrade
from staking.devnet.accounts import devnet_account
from staking.metrics import ServiceCollector
from staking.notify.webhooks import WebhookNotifier
from staking.txmanager.fees import FeePolicy
from staking.txmanager.manager import TxConfig, TxManager
from staking.txmanager.store import fee_capped_isolations
from tests.support.fake_node import GWEI, FakeNode, call

pytestmark = pytest.mark.unit

JAIL = "jail:0x" + "ab" * 32


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path}/swarm.db"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def manager(engine: Engine, node: FakeNode, cap: int, notifier: WebhookNotifier | None = None) -> TxManager:
    config = TxConfig(stuck_after=0.0, fees=FeePolicy(max_fee_cap=cap))
    outbox = notifier.record if notifier is not None else None
    return TxManager(engine, node.w3(), devnet_account(1), config, outbox=outbox)


def intent(engine: Engine, iid: int) -> dict[str, object]:
    with engine.connect() as conn:
        return dict(conn.execute(select(t.tx_intents).where(t.tx_intents.c.id == iid)).mappings().one())


def outbox(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(t.webhook_outbox)).mappings()]


def fee_capped_gauge(engine: Engine) -> dict[str, float]:
    family = next(f for f in ServiceCollector(engine).collect() if f.name == "swarm_tx_fee_capped")
    return {s.labels["kind"]: s.value for s in family.samples}


def test_constructing_a_manager_asks_the_node_nothing(engine: Engine) -> None:
    node = FakeNode(chain_id=1234)
    m = manager(engine, node, 500 * GWEI)
    assert node.requests == []
    m.reconcile()
    assert m.chain_id == 1234 and node.methods().count("eth_chainId") == 1


def test_a_stuck_isolation_at_the_fee_cap_raises_a_webhook_a_metric_and_a_readiness_entry(
    engine: Engine,
) -> None:
    node = FakeNode(base_fee=GWEI, tip=GWEI)  # market: 3 gwei max fee, 1 gwei tip
    notifier = WebhookNotifier(engine, ["https://hooks.example/swarm"], b"webhook-secret")
    m = manager(engine, node, cap=3 * GWEI, notifier=notifier)
    m.reconcile()
    iid = m.submit(JAIL, call(1))  # type: ignore[list-item]
    first = intent(engine, iid)
    assert first["state"] == "sent" and first["fee_capped_ms"] is None

    m.tick()  # stuck at once (stuck_after=0): a bump to 3.75 gwei is above the cap
    capped = intent(engine, iid)
    assert capped["fee_capped_ms"] is not None
    assert (capped["attempts"], capped["tx_hash"], capped["state"]) == (1, first["tx_hash"], "sent")

    [event] = outbox(engine)
    assert event["kind"] == "tx_fee_capped" and event["url"] == "https://hooks.example/swarm"
    body = json.loads(str(event["body"]))
    assert body["type"] == "tx_fee_capped"
    data = body["data"]
    assert (data["key"], data["action"], data["isolation"]) == (JAIL, "jail", True)
    assert (data["nonce"], data["tx_hash"]) == (first["nonce"], first["tx_hash"])
    assert (data["max_fee"], data["priority_fee"]) == (3 * GWEI, GWEI)
    assert (data["wanted_max_fee"], data["max_fee_cap"]) == (3_750_000_000, 3 * GWEI)
    assert data["age_seconds"] >= 0 and data["waiting_seconds"] >= 0
    with engine.connect() as conn:
        raw = conn.execute(select(t.tx_attempts.c.raw_tx)).scalar_one()
    assert raw not in str(event["body"]) and "webhook-secret" not in str(event["body"])

    assert fee_capped_gauge(engine)["jail"] == 1
    assert fee_capped_gauge(engine)["propose_slash"] == 0  # every known kind is exposed
    with engine.connect() as conn:
        [stuck] = fee_capped_isolations(conn)
    assert (stuck["key"], stuck["nonce"], stuck["tx_hash"]) == (JAIL, first["nonce"], first["tx_hash"])

    m.tick()  # still capped: recorded and announced once
    assert len(outbox(engine)) == 1 and intent(engine, iid)["fee_capped_ms"] == capped["fee_capped_ms"]


def test_a_raised_cap_replaces_the_isolation_and_clears_the_mark(engine: Engine) -> None:
    node = FakeNode(base_fee=GWEI, tip=GWEI)
    m = manager(engine, node, cap=3 * GWEI)  # no webhooks configured: still recorded
    m.reconcile()
    iid = m.submit(JAIL, call(1))  # type: ignore[list-item]
    m.tick()
    assert intent(engine, iid)["fee_capped_ms"] is not None and outbox(engine) == []

    restarted = manager(engine, node, cap=10 * GWEI)  # the operator raised the cap
    restarted.reconcile()
    replaced = intent(engine, iid)
    assert replaced["attempts"] == 2 and replaced["fee_capped_ms"] is None
    assert fee_capped_gauge(engine)["jail"] == 0
    with engine.connect() as conn:
        assert fee_capped_isolations(conn) == []

    node.mine(str(replaced["tx_hash"]), block=101)
    node.head, node.head_hash = 101, "0x" + f"{101:064x}"
    restarted.tick()
    assert intent(engine, iid)["state"] == "confirmed"


def test_a_stuck_slash_at_the_cap_is_counted_but_is_no_isolation(engine: Engine) -> None:
    node = FakeNode(base_fee=GWEI, tip=GWEI)
    m = manager(engine, node, cap=3 * GWEI)
    m.reconcile()
    m.submit("propose_slash:0x" + "cd" * 32, call(2))  # type: ignore[list-item]
    m.tick()
    assert fee_capped_gauge(engine)["propose_slash"] == 1 and fee_capped_gauge(engine)["jail"] == 0
    with engine.connect() as conn:
        assert fee_capped_isolations(conn) == []


def test_a_refused_payload_is_voided_with_a_no_op_and_a_void_at_the_cap_is_recorded(engine: Engine) -> None:
    node = FakeNode(base_fee=GWEI, tip=GWEI, refuse_sends="insufficient funds")
    m = TxManager(engine, node.w3(), devnet_account(1), TxConfig(send_retries=2, fees=FeePolicy()))
    m.reconcile()
    iid = m.submit(JAIL, call(3))  # type: ignore[list-item]
    assert intent(engine, iid)["state"] == "planned"  # refused once: the nonce stays taken
    m.tick()  # refused twice: the nonce is filled with a no-op
    voided = intent(engine, iid)
    assert (voided["state"], voided["data"], voided["gas"], voided["attempts"]) == (
        "voiding",
        "0x",
        21_000,
        2,
    )
    assert voided["to_address"] == m.signer and voided["error"] == "the node refused the payload"

    other = FakeNode(base_fee=GWEI, tip=GWEI, refuse_sends="insufficient funds", pending_nonce=5)
    config = TxConfig(send_retries=0, fees=FeePolicy(max_fee_cap=3 * GWEI))
    capped = TxManager(engine, other.w3(), devnet_account(1), config)
    capped.reconcile()
    jid = capped.submit("jail:0x" + "ef" * 32, call(4))  # type: ignore[list-item]
    capped.tick()  # the no-op would need more than the cap: recorded, not given up
    assert intent(engine, jid)["state"] == "planned" and intent(engine, jid)["fee_capped_ms"] is not None


def test_readyz_is_not_ready_while_an_isolation_is_stuck_at_the_fee_cap_and_names_it(engine: Engine) -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from staking.api.health import health_router

    app = FastAPI()
    app.include_router(health_router(engine, None, max_indexer_lag_blocks=20, confirmations=0))
    client = TestClient(app)
    assert client.get("/readyz").json()["checks"]["fee_cap"] == {"status": "ok"}

    node = FakeNode(base_fee=GWEI, tip=GWEI)
    m = manager(engine, node, cap=3 * GWEI)
    m.reconcile()
    m.submit(JAIL, call(1))  # type: ignore[list-item]
    m.tick()
    r = client.get("/readyz")
    assert r.status_code == 503 and r.headers["retry-after"]
    doc = r.json()
    assert (
        doc["checks"]["fee_cap"]["status"] == "degraded" and doc["checks"]["fee_cap"]["isolations_total"] == 1
    )
    assert f"{JAIL} (nonce " in doc["detail"] and "stuck at the fee cap" in doc["detail"]
