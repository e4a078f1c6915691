"""The Safe Transaction Builder export (pure, `staking.governance.export`) and the ordering of
owners' signatures for a Safe (`staking.chain.safe.combine_signatures`)."""

from __future__ import annotations

import json

import pytest
from eth_account import Account

from staking.chain.safe import SafeTx, combine_signatures
from staking.governance.export import BatchCall, dumps, transaction_builder_batch

pytestmark = pytest.mark.unit

SAFE = "0x" + "ab" * 20
TARGET = "0x" + "cd" * 20


def test_a_raw_call_exports_its_data_and_no_method() -> None:
    doc = json.loads(
        dumps(transaction_builder_batch(31337, SAFE, [BatchCall(TARGET, b"\x12\x34", 7)], "n", 5))
    )
    assert doc == {
        "version": "1.0",
        "chainId": "31337",
        "createdAt": 5,
        "meta": {
            "name": "n",
            "description": "",
            "txBuilderVersion": doc["meta"]["txBuilderVersion"],
            "createdFromSafeAddress": doc["meta"]["createdFromSafeAddress"],
        },
        "transactions": [
            {
                "to": doc["transactions"][0]["to"],
                "value": "7",
                "data": "0x1234",
                "contractMethod": None,
                "contractInputsValues": None,
            }
        ],
    }
    assert doc["meta"]["createdFromSafeAddress"].lower() == SAFE
    assert doc["transactions"][0]["to"].lower() == TARGET


def test_a_method_call_carries_its_abi_entry_and_inputs() -> None:
    abi = {
        "name": "setVetoWindow",
        "type": "function",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "window", "type": "uint64", "internalType": "uint64"}],
    }
    call = BatchCall(TARGET, b"\x00", method=abi, inputs={"window": "3600"})
    tx = transaction_builder_batch(1, SAFE, [call], "n", 0)["transactions"][0]
    assert tx["contractMethod"] == {
        "inputs": [{"internalType": "uint64", "name": "window", "type": "uint64"}],
        "name": "setVetoWindow",
        "payable": False,
    }
    assert tx["contractInputsValues"] == {"window": "3600"}


@pytest.mark.parametrize(
    "calls",
    [
        [],
        [BatchCall("0x1234", b"")],
        [BatchCall(TARGET, b"", value=-1)],
        [BatchCall(TARGET, b"", method={"name": "f"})],
    ],
)
def test_malformed_batches_are_refused(calls: list[BatchCall]) -> None:
    with pytest.raises(ValueError):
        transaction_builder_batch(1, SAFE, calls, "n", 0)


def test_signatures_are_concatenated_in_ascending_owner_order() -> None:
    owners = [Account.create() for _ in range(3)]
    tx = SafeTx(to=TARGET, data=b"", nonce=0)  # type: ignore[arg-type]
    sigs = {o.address: tx.sign(31337, SAFE, o) for o in owners}
    combined = combine_signatures(sigs)
    assert len(combined) == 3 * 65
    order = sorted(owners, key=lambda o: int(o.address, 16))
    assert [combined[i * 65 : (i + 1) * 65] for i in range(3)] == [sigs[o.address] for o in order]
    # Each is a plain ECDSA signature (v = 27/28) that recovers to its owner over the EIP-712 hash.
    for o in owners:
        assert sigs[o.address][64] in (27, 28)
        assert Account.recover_message(tx.signable(31337, SAFE), signature=sigs[o.address]) == o.address
    with pytest.raises(ValueError):
        combine_signatures({owners[0].address: b"\x00" * 64})
