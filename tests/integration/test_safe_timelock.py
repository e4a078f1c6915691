"""Safe 1.4.1 (the npm package's artifacts) and OpenZeppelin's TimelockController on a real Anvil:
a 2-of-3 Safe executes with two owners' signatures and refuses fewer or wrong ones; the Safe, as the
timelock's proposer and executor, schedules a call that runs only after minDelay, and can cancel it;
the Transaction Builder export of a batch has the Safe app's shape."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.logs import DISCARD
from web3.types import TxReceipt

from staking.chain.contracts import role_id
from staking.chain.safe import (
    SAFE_VERSION,
    SafeContract,
    calldata,
    combine_signatures,
    create_safe,
    deploy_singletons,
)
from staking.chain.sender import Sender
from staking.chain.timelock import TimelockCall, TimelockContract, deploy_timelock
from staking.domain.vocabulary import TOKEN, Wei
from staking.governance.export import BatchCall, dumps, transaction_builder_batch
from tests.support.chain import Chain, error_selectors

pytestmark = pytest.mark.integration

OWNER_INDEXES = (12, 13, 14)  # unlocked by anvil --accounts 20, no role in the devnet deployment
SUBMITTER_INDEX = 15
RECIPIENT_INDEX = 16
MIN_DELAY = 120
AMOUNT = Wei(5 * TOKEN)


@dataclass
class Governance:
    chain: Chain
    sender: Sender
    owners: list[LocalAccount]
    safe: SafeContract
    timelock: TimelockContract


@pytest.fixture
def gov(chain: Chain) -> Iterator[Governance]:
    sender = Sender(chain.w3, chain.account(SUBMITTER_INDEX))
    owners = [chain.account(i) for i in OWNER_INDEXES]
    singletons = deploy_singletons(sender)
    safe = create_safe(sender, singletons, [o.address for o in owners], threshold=2)
    timelock = deploy_timelock(sender, MIN_DELAY, proposers=[safe.address], executors=[safe.address])
    chain.tx(chain.token.transfer(timelock.address, Wei(10 * TOKEN)), chain.governance)
    yield Governance(chain, sender, owners, safe, timelock)


def through_safe(gov: Governance, fn: ContractFunction, signers: list[LocalAccount]) -> TxReceipt:
    """Carry `fn` (a call of a contract) out as the Safe, signed by `signers`."""
    return gov.safe.execute(gov.sender, gov.safe.build_tx(fn.address, calldata(fn)), signers)


def refused(gov: Governance, fn: ContractFunction, sender: str, error: str) -> None:
    """`fn` from `sender` reverts with the timelock's custom error `error`."""
    selectors = error_selectors(list(gov.timelock.contract.abi))
    with pytest.raises(ContractCustomError) as caught:
        fn.call({"from": sender})
    data = caught.value.data if isinstance(caught.value.data, str) else str(caught.value.message)
    assert selectors.get(data[:10]) == error, f"expected {error}, got {data[:10]}"


def events(wrapper: SafeContract | TimelockContract, name: str, receipt: TxReceipt) -> list[Any]:
    return list(wrapper.contract.events[name]().process_receipt(receipt, errors=DISCARD))


def test_a_new_safe_has_its_owners_threshold_and_nonce(gov: Governance) -> None:
    assert sorted(gov.safe.owners()) == sorted(o.address for o in gov.owners)
    assert gov.safe.threshold() == 2
    assert gov.safe.nonce() == 0
    assert gov.safe.version() == SAFE_VERSION


def test_the_local_eip712_hash_equals_the_safes_own(gov: Governance) -> None:
    tx = gov.safe.build_tx(
        gov.chain.token.address, calldata(gov.chain.token.transfer(gov.chain.stranger, AMOUNT))
    )
    assert tx.eip712_hash(gov.chain.w3.eth.chain_id, gov.safe.address) == gov.safe.transaction_hash(tx)
    other = gov.safe.build_tx(tx.to, tx.data, nonce=tx.nonce + 1)
    assert other.eip712_hash(gov.chain.w3.eth.chain_id, gov.safe.address) == gov.safe.transaction_hash(other)
    assert other.eip712_hash(gov.chain.w3.eth.chain_id, gov.safe.address) != gov.safe.transaction_hash(tx)


def test_two_of_three_owners_execute_a_call(gov: Governance) -> None:
    chain = gov.chain
    chain.tx(chain.token.transfer(gov.safe.address, AMOUNT), chain.governance)
    recipient = chain.account(RECIPIENT_INDEX).address
    before = chain.token.balance_of(recipient)
    tx = gov.safe.build_tx(chain.token.address, calldata(chain.token.transfer(recipient, AMOUNT)))
    receipt = gov.safe.execute(gov.sender, tx, gov.owners[1:])
    assert receipt["status"] == 1
    assert chain.token.balance_of(recipient) == before + AMOUNT
    assert chain.token.balance_of(gov.safe.address) == 0
    assert gov.safe.nonce() == 1
    # The same signatures cannot be replayed: the nonce moved on, so they sign another hash.
    with pytest.raises(ContractLogicError, match="GS026"):
        gov.safe.exec_transaction(tx, gov.safe.sign(tx, gov.owners[1:])).call({"from": gov.sender.address})


def test_one_signature_or_a_stranger_or_a_wrong_order_is_refused(gov: Governance) -> None:
    chain = gov.chain
    chain.tx(chain.token.transfer(gov.safe.address, AMOUNT), chain.governance)
    tx = gov.safe.build_tx(chain.token.address, calldata(chain.token.transfer(chain.stranger, AMOUNT)))
    submitter = {"from": gov.sender.address}
    with pytest.raises(ContractLogicError, match="GS020"):
        gov.safe.exec_transaction(tx, gov.safe.sign(tx, gov.owners[:1])).call(submitter)
    # A non-owner's signature in the place of the second owner's.
    with pytest.raises(ContractLogicError, match="GS026"):
        gov.safe.exec_transaction(
            tx, gov.safe.sign(tx, [gov.owners[0], chain.account(RECIPIENT_INDEX)])
        ).call(submitter)
    # One owner's signature twice.
    chain_id = chain.w3.eth.chain_id
    own = tx.sign(chain_id, gov.safe.address, gov.owners[0])
    with pytest.raises(ContractLogicError, match="GS026"):
        gov.safe.exec_transaction(tx, own + own).call(submitter)
    # Two owners' signatures in descending order.
    sigs = {o.address: tx.sign(chain_id, gov.safe.address, o) for o in gov.owners[:2]}
    ascending = combine_signatures(sigs)
    descending = ascending[65:] + ascending[:65]
    with pytest.raises(ContractLogicError, match="GS026"):
        gov.safe.exec_transaction(tx, descending).call(submitter)
    assert gov.safe.nonce() == 0
    assert chain.token.balance_of(gov.safe.address) == AMOUNT


def test_a_safe_scheduled_call_runs_only_after_min_delay(gov: Governance) -> None:
    chain, timelock = gov.chain, gov.timelock
    recipient = chain.account(RECIPIENT_INDEX).address
    call = TimelockCall(
        chain.token.address, calldata(chain.token.transfer(recipient, AMOUNT)), salt=b"\x01" * 32
    )
    op = call.operation_id
    assert op == timelock.hash_operation(call)
    assert timelock.min_delay() == MIN_DELAY
    assert timelock.has_role("PROPOSER_ROLE", gov.safe.address)
    assert timelock.has_role("EXECUTOR_ROLE", gov.safe.address)
    assert not timelock.has_role("DEFAULT_ADMIN_ROLE", chain.governance)

    # Only the proposer (the Safe) may schedule: an owner's own key may not.
    refused(
        gov, timelock.schedule(call, MIN_DELAY), gov.owners[0].address, "AccessControlUnauthorizedAccount"
    )
    # Below minDelay is refused even for the Safe.
    short = gov.safe.build_tx(timelock.address, calldata(timelock.schedule(call, MIN_DELAY - 1)))
    with pytest.raises(ContractLogicError, match="GS013"):
        gov.safe.exec_transaction(short, gov.safe.sign(short, gov.owners[:2])).call(
            {"from": gov.sender.address}
        )

    scheduled = through_safe(gov, timelock.schedule(call, MIN_DELAY), gov.owners[:2])
    (event,) = events(timelock, "CallScheduled", scheduled)
    assert event["args"]["id"] == op and event["args"]["delay"] == MIN_DELAY
    assert len(events(gov.safe, "ExecutionSuccess", scheduled)) == 1
    scheduled_at = chain.now()
    assert timelock.is_pending(op) and not timelock.is_ready(op) and not timelock.is_done(op)
    assert timelock.timestamp(op) == scheduled_at + MIN_DELAY

    # Too early: the timelock refuses the Safe (its own error in a direct call from the Safe's
    # address; GS013 when the Safe carries it).
    refused(gov, timelock.execute(call), gov.safe.address, "TimelockUnexpectedOperationState")
    early = gov.safe.build_tx(timelock.address, calldata(timelock.execute(call)))
    with pytest.raises(ContractLogicError, match="GS013"):
        gov.safe.exec_transaction(early, gov.safe.sign(early, gov.owners[:2])).call(
            {"from": gov.sender.address}
        )

    chain.rpc("evm_increaseTime", MIN_DELAY)
    chain.rpc("evm_mine")
    assert timelock.is_ready(op)
    # The executor is the Safe alone: an owner's own key may not execute it.
    refused(gov, timelock.execute(call), gov.owners[0].address, "AccessControlUnauthorizedAccount")
    before = chain.token.balance_of(recipient)
    executed = gov.safe.execute(gov.sender, early, gov.owners[1:])
    assert [e["args"]["id"] for e in events(timelock, "CallExecuted", executed)] == [op]
    assert timelock.is_done(op) and timelock.timestamp(op) == 1
    assert chain.token.balance_of(recipient) == before + AMOUNT


def test_the_safe_cancels_a_pending_operation(gov: Governance) -> None:
    chain, timelock = gov.chain, gov.timelock
    call = TimelockCall(chain.token.address, calldata(chain.token.transfer(chain.stranger, AMOUNT)))
    op = call.operation_id
    through_safe(gov, timelock.schedule(call, MIN_DELAY), gov.owners[:2])
    assert timelock.has_role("CANCELLER_ROLE", gov.safe.address)
    # Nobody else may cancel: not the devnet's governance key, not an owner's own key.
    refused(gov, timelock.cancel(op), chain.governance, "AccessControlUnauthorizedAccount")
    refused(gov, timelock.cancel(op), gov.owners[2].address, "AccessControlUnauthorizedAccount")
    cancelled = through_safe(gov, timelock.cancel(op), gov.owners[::2])
    assert [e["args"]["id"] for e in events(timelock, "Cancelled", cancelled)] == [op]
    assert not timelock.is_pending(op) and timelock.timestamp(op) == 0
    chain.rpc("evm_increaseTime", MIN_DELAY)
    chain.rpc("evm_mine")
    refused(gov, timelock.execute(call), gov.safe.address, "TimelockUnexpectedOperationState")
    assert chain.token.balance_of(chain.stranger) == 0


def test_the_transaction_builder_export_has_the_safe_apps_shape(gov: Governance) -> None:
    chain, timelock = gov.chain, gov.timelock
    transfer = chain.token.transfer(chain.stranger, AMOUNT)
    call = TimelockCall(chain.token.address, calldata(transfer))
    abi = next(i for i in chain.token.contract.abi if i.get("name") == "transfer" and i["type"] == "function")
    batch = transaction_builder_batch(
        chain.w3.eth.chain_id,
        gov.safe.address,
        [
            BatchCall(timelock.address, calldata(timelock.schedule(call, MIN_DELAY))),
            BatchCall(
                chain.token.address,
                calldata(transfer),
                method=dict(abi),
                inputs={"to": chain.stranger, "value": str(AMOUNT)},
            ),
        ],
        name="schedule a transfer",
        created_at_ms=1_764_000_000_000,
    )
    doc = json.loads(dumps(batch))
    assert doc["version"] == "1.0" and doc["chainId"] == str(chain.w3.eth.chain_id)
    assert doc["createdAt"] == 1_764_000_000_000
    assert doc["meta"]["createdFromSafeAddress"] == gov.safe.address
    assert set(doc["meta"]) == {"name", "description", "txBuilderVersion", "createdFromSafeAddress"}
    first, second = doc["transactions"]
    assert set(first) == {"to", "value", "data", "contractMethod", "contractInputsValues"}
    assert first["to"] == timelock.address and first["value"] == "0"
    assert first["contractMethod"] is None and first["contractInputsValues"] is None
    assert bytes.fromhex(first["data"][2:]) == calldata(timelock.schedule(call, MIN_DELAY))
    assert second["contractMethod"]["name"] == "transfer"
    assert [i["name"] for i in second["contractMethod"]["inputs"]] == [i["name"] for i in abi["inputs"]]
    # The exported call data is what the Safe executes: carried out, it schedules the operation.
    tx = gov.safe.build_tx(first["to"], bytes.fromhex(first["data"][2:]), value=int(first["value"]))
    gov.safe.execute(gov.sender, tx, gov.owners[:2])
    assert timelock.is_pending(call.operation_id)


def test_the_timelock_holding_governance_role_changes_a_staking_parameter(gov: Governance) -> None:
    chain, timelock, staking = gov.chain, gov.timelock, gov.chain.staking
    role = role_id("GOVERNANCE_ROLE")
    chain.tx(staking.contract.functions.grantRole(role, timelock.address), chain.governance)
    assert staking.has_role("GOVERNANCE_ROLE", timelock.address)
    window = staking.veto_window() + 60
    set_window = staking.contract.functions.setVetoWindow(window)
    call = TimelockCall(staking.address, calldata(set_window))
    # The Safe itself holds no role on SwarmStaking: it goes through the timelock.
    assert not staking.has_role("GOVERNANCE_ROLE", gov.safe.address)
    through_safe(gov, timelock.schedule(call, MIN_DELAY), gov.owners[:2])
    chain.rpc("evm_increaseTime", MIN_DELAY - 5)
    chain.rpc("evm_mine")
    refused(gov, timelock.execute(call), gov.safe.address, "TimelockUnexpectedOperationState")
    assert staking.veto_window() == window - 60
    chain.rpc("evm_increaseTime", 5)
    chain.rpc("evm_mine")
    through_safe(gov, timelock.execute(call), gov.owners[1:])
    assert staking.veto_window() == window
    assert timelock.is_done(call.operation_id)
