"""Provider appeals of slashes (SPEC section 9) end to end on a real Anvil and each database: the
provider appeals its pending slash (its own key, the bond pulled), the indexer folds it, the
provider sees it in `GET /v1/providers/{a}`, `GET /v1/appeals` lists it, and the council's
`appeal` webhook reaches a receiver on 127.0.0.1; then each outcome — upheld, rejected, expired —
moves the bond and the slash as the contract says and shows as such."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_utils import keccak
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from indexer.runner import Indexer
from staking.db.engine import make_engine
from staking.devnet.accounts import SERVICE, devnet_account
from staking.domain.vocabulary import AppealState, SlashState
from staking.notify.webhooks import WebhookNotifier
from staking.txmanager.manager import TxConfig, TxManager
from staking.worker.jobs import execute_matured_slashes
from tests.support.chain import Chain
from tests.support.indexing import index_to_head
from tests.support.provider_app import make_app
from tests.support.webhooks import Receiver

pytestmark = pytest.mark.integration

SECRET = b"council-webhook-secret"
EVIDENCE = b"node logs 2026-12-01 00:00-06:00: the flagged traffic is our own load test, ticket OPS-77\n"
REASON = keccak(text="reviewed by the council")


@dataclass
class Appeals:
    chain: Chain
    engine: Engine
    indexer: Indexer
    client: TestClient
    receiver: Receiver
    db_url: str

    @property
    def provider(self) -> str:
        return self.chain.providers[0]

    def index(self) -> None:
        index_to_head(self.db_url, self.chain, indexer=self.indexer)

    def get(self, path: str, **params: Any) -> Any:
        r = self.client.get(path, params=params)
        assert r.status_code == 200, r.text
        return r.json()

    def propose(self, bps: int = 500) -> bytes:
        v, sig = self.chain.signed(self.provider)
        self.chain.tx(self.chain.staking.propose_slash(v, sig, bps), self.chain.service)
        return v.id

    def appeal(self, sid: bytes) -> dict[str, Any]:
        """The provider approves the bond and appeals; returns the SlashAppealed event."""
        c, s = self.chain, self.chain.staking
        c.tx(c.token.approve(s.address, s.appeal_params().bond), self.provider)
        receipt = c.tx(s.appeal_slash(sid, hashlib.sha256(EVIDENCE).digest()), self.provider)
        return c.one_event(receipt, "SlashAppealed")

    def pending(self, sid: bytes) -> dict[str, Any]:
        doc = self.get(f"/v1/providers/{self.provider}")
        (item,) = [x for x in doc["pending_slashes"] if x["id"] == "0x" + sid.hex()]
        return dict(item)

    def listed(self, sid: bytes, **params: Any) -> dict[str, Any]:
        (item,) = [x for x in self.get("/v1/appeals", **params)["items"] if x["id"] == "0x" + sid.hex()]
        return dict(item)

    def balance(self, account: str) -> int:
        return int(self.chain.token.balance_of(account))

    def deliveries(self) -> list[dict[str, Any]]:
        return [
            json.loads(body)
            for headers, body in self.receiver.requests
            if headers["x-swarm-event"] == "appeal"
        ]


@pytest.fixture
def appeals(chain: Chain, db_url: str) -> Iterator[Appeals]:
    engine = make_engine(db_url)
    receiver = Receiver(fail_first=0)
    notifier = WebhookNotifier(engine, [receiver.url], SECRET, backoff=0.05).start()
    indexer = Indexer(engine, chain.w3, chain.deployment, outbox=notifier.record)
    index_to_head(db_url, chain, indexer=indexer)
    try:
        with make_app(engine, chain) as client:
            yield Appeals(chain, engine, indexer, client, receiver, db_url)
    finally:
        notifier.stop()
        receiver.server.shutdown()
        engine.dispose()


def wait_for(cond: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_an_appeal_freezes_the_slash_shows_to_the_provider_and_reaches_the_council(appeals: Appeals) -> None:
    a, c, s = appeals, appeals.chain, appeals.chain.staking
    sid = a.propose()
    a.index()
    before = a.pending(sid)
    assert before["appeal"] is None and before["appeal_until"] == s.slash(sid).executable_at
    step = a.get(f"/v1/providers/{a.provider}")["recovery"]["next_step"]
    assert f"swarm-staking slash appeal 0x{sid.hex()} --evidence FILE" in step
    assert f"a bond of {s.appeal_params().bond} base units" in step, "the bond indexed from the deployment"

    balance = a.balance(a.provider)
    event = a.appeal(sid)
    assert a.balance(a.provider) == balance - s.appeal_params().bond
    a.index()
    slash = a.pending(sid)
    assert slash["appeal_until"] is None
    assert slash["appeal"] == {
        "state": "open",
        "evidence_hash": "0x" + hashlib.sha256(EVIDENCE).hexdigest(),
        "bond": str(event["bond"]),
        "deadline": event["deadline"],
        "resolved_at": None,
        "reason_hash": None,
    }
    assert a.get(f"/v1/providers/{a.provider}")["recovery"] is None, "nothing left to appeal"
    item = a.listed(sid, state="open", provider=a.provider)
    assert item["slash"]["state"] == "pending" and item["bond"] == str(s.appeal_params().bond)

    wait_for(lambda: len(a.deliveries()) == 1)
    (notice,) = a.deliveries()
    assert notice["type"] == "appeal"
    data = notice["data"]
    assert (data["slash_id"], data["provider"], data["evidence_hash"]) == (
        "0x" + sid.hex(), a.provider, "0x" + hashlib.sha256(EVIDENCE).hexdigest()
    )  # fmt: skip
    assert (data["bond"], data["deadline"]) == (str(event["bond"]), event["deadline"])

    c.expect_revert(s.appeal_slash(sid, b"\x01" * 32), a.provider, "AlreadyAppealed", sid)
    # Frozen: past the veto window, execution waits for the council.
    c.advance(s.veto_window() + 1)
    c.expect_revert(s.execute_slash(sid), c.stranger, "AppealPending", sid, event["deadline"])


def test_an_upheld_appeal_vetoes_the_slash_and_refunds_the_bond(appeals: Appeals) -> None:
    a, c, s = appeals, appeals.chain, appeals.chain.staking
    sid = a.propose()
    a.appeal(sid)
    balance = a.balance(a.provider)
    receipt = c.tx(s.resolve_appeal(sid, True, REASON), c.governance)  # the EOA devnet's council
    assert a.balance(a.provider) == balance + s.appeal_params().bond
    a.index()
    doc = a.get(f"/v1/providers/{a.provider}")
    assert doc["pending_slashes"] == []
    (vetoed,) = [x for x in doc["slashes"] if x["id"] == "0x" + sid.hex()]
    assert vetoed["state"] == "vetoed" and vetoed["appeal"]["state"] == "upheld"
    assert vetoed["appeal"]["reason_hash"] == "0x" + REASON.hex()
    assert vetoed["appeal"]["resolved_at"] == c.block_time(receipt)
    assert s.slash_state(sid) == SlashState.VETOED and s.get_appeal(sid).state == AppealState.UPHELD
    assert a.listed(sid, state="upheld")["resolved_tx"] == receipt["transactionHash"].to_0x_hex()


def test_a_rejected_appeal_pays_the_treasury_and_the_slash_executes_after_the_grace(appeals: Appeals) -> None:
    a, c, s = appeals, appeals.chain, appeals.chain.staking
    sid = a.propose()
    a.appeal(sid)
    treasury = a.balance(c.treasury)
    receipt = c.tx(s.resolve_appeal(sid, False, REASON), c.governance)
    event = c.one_event(receipt, "AppealResolved")
    assert a.balance(c.treasury) == treasury + s.appeal_params().bond
    assert event["executableAt"] == max(
        s.slash(sid).executable_at, c.block_time(receipt) + s.appeal_params().grace
    )
    a.index()
    slash = a.pending(sid)
    assert slash["appeal"]["state"] == "rejected" and slash["executable_at"] == event["executableAt"]
    assert slash["executable_at"] == s.slash(sid).executable_at, "the projection follows the contract"
    assert a.listed(sid, state="rejected")["executable_at"] == event["executableAt"]

    c.set_next_timestamp(event["executableAt"] - 1)
    c.expect_revert_at(event["executableAt"] - 1, s.execute_slash(sid), c.stranger, "VetoWindowOpen")
    c.tx_at(event["executableAt"], s.execute_slash(sid), c.stranger)
    a.index()
    (executed,) = [x for x in a.get(f"/v1/providers/{a.provider}")["slashes"] if x["id"] == "0x" + sid.hex()]
    assert executed["state"] == "executed" and executed["appeal"]["state"] == "rejected"


def test_an_unresolved_appeal_expires_refunds_the_bond_and_the_slash_executes(appeals: Appeals) -> None:
    a, c, s = appeals, appeals.chain, appeals.chain.staking
    sid = a.propose()
    event = a.appeal(sid)
    c.advance(event["deadline"] - c.now())
    a.index()
    assert a.pending(sid)["appeal"]["state"] == "expired", "appealOf reads expired from the deadline on"
    assert a.listed(sid, state="expired")["resolved_at"] is None
    c.expect_revert(s.resolve_appeal(sid, True, REASON), c.governance, "NoOpenAppeal", sid)
    balance = a.balance(a.provider)
    receipt = c.tx(s.execute_slash(sid), c.stranger)
    assert c.one_event(receipt, "AppealExpired")["bondRefunded"] == event["bond"]
    assert a.balance(a.provider) == balance + event["bond"]
    a.index()
    (executed,) = [x for x in a.get(f"/v1/providers/{a.provider}")["slashes"] if x["id"] == "0x" + sid.hex()]
    assert executed["state"] == "executed"
    assert executed["appeal"]["state"] == "expired" and executed["appeal"]["resolved_at"] == c.block_time(
        receipt
    )
    assert a.listed(sid, state="expired")["resolved_tx"] == receipt["transactionHash"].to_0x_hex()


def test_the_worker_leaves_an_appealed_slash_alone_until_the_deadline_then_executes_it(
    appeals: Appeals,
) -> None:
    a, c, s = appeals, appeals.chain, appeals.chain.staking
    sid = a.propose()
    event = a.appeal(sid)
    c.advance(s.veto_window() + 1)
    a.index()
    txm = TxManager(a.engine, c.w3, devnet_account(SERVICE), TxConfig(), error_name=s.error_name)
    txm.reconcile()
    assert execute_matured_slashes(a.engine, s, txm) == 0, "frozen by the open appeal"
    assert txm.intent_for(f"execute_slash:0x{sid.hex()}") is None
    c.advance(event["deadline"] - c.now())
    assert execute_matured_slashes(a.engine, s, txm) == 1
    txm.tick()
    assert s.slash_state(sid) == SlashState.EXECUTED and s.get_appeal(sid).state == AppealState.EXPIRED
