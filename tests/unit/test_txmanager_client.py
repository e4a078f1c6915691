"""The transaction manager's JSON-RPC client against a scripted node (unit: no sockets):
simulation by one eth_call at a learned gas limit, reverts named, fees asked at most once a
second, sends and receipts in batches, and an unreachable node."""

from __future__ import annotations

import pytest

from staking.domain.errors import NodeUnreachable
from staking.txmanager.client import SimulationReverted, TxClient
from staking.txmanager.fees import FeeCapExceeded, FeePolicy
from staking.txmanager.states import Receipt, TxConfig
from tests.support.fake_node import GWEI, SELECTOR, FakeNode, call

pytestmark = pytest.mark.unit

SIGNER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def client(node: FakeNode, config: TxConfig | None = None, clock: list[float] | None = None) -> TxClient:
    times = clock if clock is not None else [0.0]
    return TxClient(
        node.rpc(),
        SIGNER,
        config or TxConfig(),
        error_name=lambda data: f"E{data[2:6]}",
        clock=lambda: times[0],
    )


def test_a_new_function_is_estimated_and_then_simulated_at_its_gas_limit() -> None:
    node = FakeNode(gas=40_000)
    c = client(node, TxConfig(gas_margin_percent=25, gas_headroom=0))
    first = call(1)
    assert c.simulate_many([(first.address, first.data)]) == [50_000]
    assert c.gas_cap == {SELECTOR: 50_000} and node.methods() == ["eth_estimateGas"]
    node.requests.clear()
    again = [call(2), call(3)]
    assert c.simulate_many([(f.address, f.data) for f in again]) == [50_000, 50_000]
    assert node.methods() == ["eth_call", "eth_call"]  # no estimation for a known function


def test_the_limit_adds_the_headroom_after_the_margin() -> None:
    node = FakeNode(gas=40_000)
    c = client(node, TxConfig(gas_margin_percent=25, gas_headroom=45_000))
    f = call(1)
    assert c.simulate_many([(f.address, f.data)]) == [95_000] and c.gas_cap == {SELECTOR: 95_000}


def test_a_call_needing_more_than_the_learned_gas_is_estimated_again() -> None:
    node = FakeNode(gas=40_000)
    c = client(node, TxConfig(gas_margin_percent=25, gas_headroom=0))
    c.gas_cap[SELECTOR] = 30_000  # the eth_call runs out of gas: not a revert
    f = call(1)
    assert c.simulate_many([(f.address, f.data)]) == [50_000]
    assert node.methods() == ["eth_call", "eth_estimateGas"] and c.gas_cap[SELECTOR] == 50_000


def test_a_revert_is_named_and_costs_nothing_else_in_the_batch() -> None:
    bad, good = call(1), call(2)
    node = FakeNode(reverts={bad.data: "0xdeadbeef"})
    c = client(node)
    result = c.simulate_many([(bad.address, bad.data), (good.address, good.data)])
    assert isinstance(result[0], SimulationReverted) and result[0].error == "Edead"
    assert isinstance(result[1], int)
    with pytest.raises(SimulationReverted):
        c.estimate(bad.address, bad.data)


def test_market_fees_are_asked_at_most_once_a_second_and_refused_above_the_cap() -> None:
    node = FakeNode(base_fee=GWEI, tip=2 * GWEI)
    now = [0.0]
    c = client(node, clock=now)
    fees = c.market_fees()
    assert (fees.max_fee, fees.priority_fee) == (4 * GWEI, 2 * GWEI)
    now[0] = 0.9
    c.market_fees()
    assert node.methods().count("eth_feeHistory") == 1
    now[0] = 1.0
    c.market_fees()
    assert node.methods().count("eth_feeHistory") == 2
    capped = client(FakeNode(base_fee=10 * GWEI), TxConfig(fees=FeePolicy(max_fee_cap=5 * GWEI)))
    with pytest.raises(FeeCapExceeded):
        capped.market_fees()


def test_sends_report_the_nodes_refusal_per_payload() -> None:
    node = FakeNode()
    c = client(node)
    assert c.send_raw_many(["0x01", "0x02"]) == [None, None] and node.sent == ["0x01", "0x02"]
    node.refuse_sends = "already known"
    assert c.send_raw_many(["0x01"]) == ["eth_sendRawTransaction: already known"]


def test_an_unreachable_node_fails_every_send_and_raises_elsewhere() -> None:
    node = FakeNode(unreachable=True)
    c = client(node)
    errors = c.send_raw_many(["0x01", "0x02"])
    assert len(errors) == 2 and all(e and "ConnectionError" in e for e in errors)
    with pytest.raises(NodeUnreachable):
        c.head()


def test_receipts_chain_id_nonces_and_heads_are_read_from_the_node() -> None:
    node = FakeNode(chain_id=5, pending_nonce=9, latest_nonce=7, head=42)
    node.mine("0x" + "cc" * 32, block=40, status=0, to=SIGNER)
    c = client(node)
    assert c.receipts(["0x" + "cc" * 32, "0x" + "dd" * 32]) == [
        Receipt(40, "0x" + f"{40:064x}", "0x" + "cc" * 32, 0, SIGNER),
        None,
    ]
    assert (c.chain_id(), c.chain_id()) == (5, 5) and node.methods().count("eth_chainId") == 1
    assert (c.nonce("pending"), c.nonce("latest")) == (9, 7)
    assert c.head() == (42, node.head_hash) and c.head_number() == 42
    assert c.block_hash(40) == "0x" + f"{40:064x}" and c.block_hash(41) is None
