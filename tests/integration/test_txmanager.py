"""The transaction manager on a real Anvil: once per key, no burnt nonces, replacement of dropped
transactions with the same nonce, restart reconciliation (its pure rules: tests/unit)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from staking.db import schema as t
from staking.db.engine import make_engine
from staking.devnet.accounts import devnet_account
from staking.domain.vocabulary import TxState
from staking.txmanager.manager import SimulationReverted, TxConfig, TxManager
from tests.support.chain import Chain

pytestmark = pytest.mark.integration


GWEI = 10**9


def manager(db_url: str, chain: Chain, **config: object) -> TxManager:
    m = TxManager(
        make_engine(db_url),
        chain.w3,
        devnet_account(1),
        TxConfig(**config),  # type: ignore[arg-type]
        error_name=chain.staking.error_name,
    )
    m.reconcile()
    return m


def state(db_url: str, intent_id: int) -> dict[str, object]:
    with make_engine(db_url).connect() as conn:
        return dict(conn.execute(select(t.tx_intents).where(t.tx_intents.c.id == intent_id)).mappings().one())


def until_confirmed(m: TxManager, db_url: str, intent_id: int, timeout: float = 5.0) -> None:
    """Tick until the intent is confirmed: the node answers a receipt a moment after mining it,
    and a tick in between sees the transaction as not yet mined (and, with stuck_after=0, replaces
    it). A stalled signer never gets there."""
    deadline = time.monotonic() + timeout
    while True:
        m.tick()
        if state(db_url, intent_id)["state"] == TxState.CONFIRMED:
            return
        assert time.monotonic() < deadline, f"intent {intent_id} not confirmed: {state(db_url, intent_id)}"
        time.sleep(0.05)


@pytest.mark.integration
def test_a_key_is_sent_once_and_confirmed(db_url: str, chain: Chain) -> None:
    m = manager(db_url, chain)
    v, sig = chain.signed(chain.providers[0])
    first = m.submit(f"jail:{v.id.hex()}", chain.staking.jail(v, sig, 0))
    again = m.submit(f"jail:{v.id.hex()}", chain.staking.jail(v, sig, 0))
    assert first == again
    until_confirmed(m, db_url, first)
    assert chain.staking.is_jailed(chain.providers[0])
    with make_engine(db_url).connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.tx_intents)).scalar() == 1


@pytest.mark.integration
def test_a_call_that_would_revert_records_nothing_and_burns_no_nonce(db_url: str, chain: Chain) -> None:
    m = manager(db_url, chain)
    nonce_before = chain.w3.eth.get_transaction_count(chain.service)
    stale, sig = chain.signed(chain.providers[0], detected_at=chain.now() - 10 * 3600)
    with pytest.raises(SimulationReverted) as exc:
        m.submit("jail:stale", chain.staking.jail(stale, sig, 0))
    assert exc.value.error == "VerdictExpired"
    assert m.intent_for("jail:stale") is None
    v, sig = chain.signed(chain.providers[1])
    iid = m.submit("jail:fresh", chain.staking.jail(v, sig, 0))
    assert state(db_url, iid)["nonce"] == nonce_before


@pytest.mark.integration
def test_many_intents_go_out_pipelined_with_consecutive_nonces(db_url: str, chain: Chain) -> None:
    m = manager(db_url, chain)
    chain.rpc("evm_setAutomine", False)
    try:
        ids = []
        for p in chain.providers:
            v, sig = chain.signed(p)
            ids.append(m.submit(f"jail:{v.id.hex()}", chain.staking.jail(v, sig, 0)))
        assert chain.w3.eth.get_block("pending")["transactions"], "all should wait in the mempool together"
        chain.rpc("evm_mine")
    finally:
        chain.rpc("evm_setAutomine", True)
    for i in ids:
        until_confirmed(m, db_url, i)
    nonces = [state(db_url, i)["nonce"] for i in ids]
    assert nonces == list(range(nonces[0], nonces[0] + len(ids)))
    assert all(chain.staking.is_jailed(p) for p in chain.providers)


@pytest.mark.integration
def test_a_dropped_transaction_is_replaced_with_the_same_nonce_and_a_higher_fee(
    db_url: str, chain: Chain
) -> None:
    m = manager(db_url, chain, stuck_after=0.0)
    chain.rpc("evm_setAutomine", False)
    try:
        v, sig = chain.signed(chain.providers[2])
        iid = m.submit("jail:dropped", chain.staking.jail(v, sig, 0))
        first = state(db_url, iid)
        chain.rpc("anvil_dropTransaction", first["tx_hash"])
        m.tick()  # no receipt, stuck: replaced
        second = state(db_url, iid)
        assert second["nonce"] == first["nonce"] and second["tx_hash"] != first["tx_hash"]
        assert second["attempts"] == 2
        chain.rpc("evm_mine")
    finally:
        chain.rpc("evm_setAutomine", True)
    until_confirmed(m, db_url, iid)
    assert chain.staking.is_jailed(chain.providers[2])
    # and the signer is not stalled: the next intent confirms too
    v2, sig2 = chain.signed(chain.providers[3])
    nxt = m.submit("jail:next", chain.staking.jail(v2, sig2, 0))
    until_confirmed(m, db_url, nxt)
    assert state(db_url, nxt)["nonce"] == first["nonce"] + 1


@pytest.mark.integration
def test_a_restart_resends_what_was_recorded_but_never_reached_the_node(db_url: str, chain: Chain) -> None:
    m = manager(db_url, chain)
    chain.rpc("evm_setAutomine", False)
    try:
        v, sig = chain.signed(chain.providers[4])
        iid = m.submit("jail:crash", chain.staking.jail(v, sig, 0))
        # Simulate a crash after the write-ahead record but before the node kept the payload.
        chain.rpc("anvil_dropTransaction", state(db_url, iid)["tx_hash"])
        with make_engine(db_url).begin() as conn:
            conn.execute(t.tx_intents.update().where(t.tx_intents.c.id == iid).values(state="planned"))
        restarted = manager(db_url, chain)  # reconcile() re-sends the recorded payload as is
        chain.rpc("evm_mine")
    finally:
        chain.rpc("evm_setAutomine", True)
    restarted.tick()
    assert state(db_url, iid)["state"] == TxState.CONFIRMED and state(db_url, iid)["attempts"] == 1
    assert chain.staking.is_jailed(chain.providers[4])


@pytest.mark.integration
def test_a_stuck_transaction_is_replaced_by_the_same_call_never_voided(db_url: str, chain: Chain) -> None:
    # Waiting in the node's pool past `stuck_after` is no reason to doubt the call: simulated
    # against the pending block (which holds the transaction itself) a jail is "already used".
    # The replacement carries the same call, and the action happens exactly once.
    m = manager(db_url, chain, stuck_after=0.0)
    chain.rpc("evm_setAutomine", False)
    try:
        signed = [chain.signed(chain.providers[i]) for i in (5, 6)]
        ids = [
            m.submit(f"jail:stuck-{i}", chain.staking.jail(v, sig, 0)) for i, (v, sig) in enumerate(signed)
        ]
        firsts = [state(db_url, i) for i in ids]
        m.tick()  # both stuck: replaced with bumped fees
        for iid, first in zip(ids, firsts, strict=True):
            now = state(db_url, iid)
            assert now["state"] == "sent" and now["attempts"] == 2 and now["tx_hash"] != first["tx_hash"]
            assert now["to_address"] == first["to_address"] and now["data"] == first["data"]
        chain.rpc("evm_mine")
    finally:
        chain.rpc("evm_setAutomine", True)
    for iid in ids:
        until_confirmed(m, db_url, iid)
    assert chain.staking.is_jailed(chain.providers[5]) and chain.staking.is_jailed(chain.providers[6])
    assert chain.w3.eth.get_transaction_count(chain.service) == firsts[1]["nonce"] + 1


@pytest.mark.integration
def test_a_stuck_call_that_became_invalid_reverts_on_chain_without_a_nonce_gap(
    db_url: str, chain: Chain
) -> None:
    m = manager(db_url, chain, stuck_after=0.0)
    chain.rpc("evm_setAutomine", False)
    try:
        v, sig = chain.signed(chain.providers[5])
        iid = m.submit("slash:void", chain.staking.propose_slash(v, sig, 100))
        chain.rpc("anvil_dropTransaction", state(db_url, iid)["tx_hash"])
        chain.rpc("evm_setAutomine", True)
        chain.tx(chain.staking.pause(), chain.governance)  # now proposeSlash reverts
        chain.rpc("evm_setAutomine", False)
        m.tick()  # stuck -> the same call, bumped fees
        chain.rpc("evm_mine")
    finally:
        chain.rpc("evm_setAutomine", True)
    deadline = time.monotonic() + 5
    while state(db_url, iid)["state"] != TxState.FAILED and time.monotonic() < deadline:
        m.tick()
        time.sleep(0.05)
    s = state(db_url, iid)
    assert s["state"] == TxState.FAILED and "reverted" in str(s["error"])
    assert chain.w3.eth.get_transaction_count(chain.service) == s["nonce"] + 1  # nonce consumed, no gap


@pytest.mark.integration
def test_a_nonce_used_without_our_receipt_fails_only_when_it_persists_over_heads(
    db_url: str, chain: Chain
) -> None:
    # Between reading the nonce and looking for receipts a reorg can orphan our transaction for a
    # moment: one observation must not fail the intent for good (failing is final and would strand
    # every later nonce), while a nonce really used by another sender still fails it.
    m = manager(db_url, chain, stuck_after=60.0)
    chain.rpc("evm_setAutomine", False)
    try:
        v, sig = chain.signed(chain.providers[5])
        iid = m.submit("jail:elsewhere", chain.staking.jail(v, sig, 0))
        chain.rpc("anvil_dropTransaction", state(db_url, iid)["tx_hash"])
        chain.rpc("evm_setAutomine", True)
        # The same key sends something else with that nonce: the service did not send it.
        key = devnet_account(1)
        other = key.sign_transaction(
            {"to": key.address, "value": 0, "gas": 21_000, "gasPrice": 10 * GWEI, "chainId": 31337,
             "nonce": state(db_url, iid)["nonce"]}
        )  # fmt: skip
        chain.w3.eth.send_raw_transaction(other.raw_transaction)
    finally:
        chain.rpc("evm_setAutomine", True)
    m.tick()
    assert state(db_url, iid)["state"] == "sent"  # one head: not yet concluded
    for _ in range(3):
        chain.rpc("evm_mine")
        m.tick()
    assert state(db_url, iid)["state"] == TxState.FAILED and "did not send" in str(
        state(db_url, iid)["error"]
    )


@pytest.mark.integration
def test_a_batch_records_each_call_or_the_reason_it_cannot_be_sent(db_url: str, chain: Chain) -> None:
    m = manager(db_url, chain)
    fresh, sig = chain.signed(chain.providers[0])
    stale, stale_sig = chain.signed(chain.providers[1], detected_at=chain.now() - 10 * 3600)
    results = m.submit_many(
        [
            ("jail:fresh", chain.staking.jail(fresh, sig, 0)),
            ("jail:stale", chain.staking.jail(stale, stale_sig, 0)),
            ("jail:fresh", chain.staking.jail(fresh, sig, 0)),  # the same key twice: one intent
        ]
    )
    assert isinstance(results[0], int) and results[2] == results[0]
    assert isinstance(results[1], SimulationReverted) and results[1].error == "VerdictExpired"
    assert m.intent_for("jail:stale") is None
    until_confirmed(m, db_url, results[0])


@pytest.mark.integration
def test_a_call_needing_more_gas_than_its_functions_cap_is_estimated_again(db_url: str, chain: Chain) -> None:
    m = manager(db_url, chain)
    first, sig = chain.signed(chain.providers[0])
    m.submit("jail:first", chain.staking.jail(first, sig, 0))  # learns the gas cap of `jail`
    selector = next(iter(m.client.gas_cap))
    m.client.gas_cap[selector] = 30_000  # below what a jail needs: the eth_call at the cap runs out of gas
    second, sig2 = chain.signed(chain.providers[1])
    iid = m.submit("jail:second", chain.staking.jail(second, sig2, 0))
    until_confirmed(m, db_url, iid)
    assert int(state(db_url, iid)["gas"]) > 30_000 and m.client.gas_cap[selector] > 30_000


@pytest.mark.integration
def test_a_confirmation_newer_than_the_head_read_is_not_taken_for_a_reorg(db_url: str, chain: Chain) -> None:
    # A tick reads the head, then another part of it records a receipt mined after that head: the
    # re-check of recent confirmations must not mistake the newer block for one reorged away.
    m = manager(db_url, chain)
    v, sig = chain.signed(chain.providers[0])
    iid = m.submit(f"jail:{v.id.hex()}", chain.staking.jail(v, sig, 0))
    until_confirmed(m, db_url, iid)
    mined = state(db_url, iid)
    m.tracker.recheck_recent(int(mined["mined_block"]) - 1)  # type: ignore[arg-type]
    assert state(db_url, iid) == mined
    m.tracker.recheck_recent(int(mined["mined_block"]))  # type: ignore[arg-type]
    assert state(db_url, iid) == mined  # its block is canonical
