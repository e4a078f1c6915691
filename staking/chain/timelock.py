"""Typed wrapper of OpenZeppelin's TimelockController (5.4.0, compiled by the Hardhat build).

An operation is (target, value, data, predecessor, salt); its id is `hashOperation` of those.
Proposers schedule it with a delay of at least `getMinDelay()`, executors execute it once ready,
cancellers (the proposers, by the constructor) cancel it while pending.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from eth_abi import encode
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction

from staking.chain.artifacts import DEFAULT_ARTIFACTS, Artifact, load_artifact
from staking.chain.safe import ZERO_ADDRESS
from staking.chain.sender import Sender, TransactionFailed
from staking.domain.vocabulary import Address

ZERO32 = b"\x00" * 32
TIMELOCK_ROLES = ("PROPOSER_ROLE", "EXECUTOR_ROLE", "CANCELLER_ROLE")
_SOURCE = "@openzeppelin/contracts/governance/TimelockController.sol"


def timelock_artifact(artifacts_dir: Path = DEFAULT_ARTIFACTS) -> Artifact:
    return load_artifact("TimelockController", artifacts_dir, _SOURCE)


@dataclass(frozen=True)
class TimelockCall:
    """One timelocked call. `operation_id` equals the contract's hashOperation."""

    target: Address
    data: bytes
    value: int = 0
    predecessor: bytes = ZERO32
    salt: bytes = ZERO32

    @property
    def operation_id(self) -> bytes:
        return keccak(
            encode(
                ["address", "uint256", "bytes", "bytes32", "bytes32"],
                [to_checksum_address(self.target), self.value, self.data, self.predecessor, self.salt],
            )
        )


@dataclass
class TimelockContract:
    """A TimelockController at `address`."""

    w3: Web3
    address: Address
    artifacts_dir: Path = DEFAULT_ARTIFACTS
    contract: Contract = field(init=False)

    def __post_init__(self) -> None:
        self.address = Address(to_checksum_address(self.address))
        self.contract = self.w3.eth.contract(
            address=self.address, abi=timelock_artifact(self.artifacts_dir).abi
        )

    # ---- views
    def min_delay(self) -> int:
        return int(self.contract.functions.getMinDelay().call())

    def hash_operation(self, call: TimelockCall) -> bytes:
        fn = self.contract.functions.hashOperation(
            call.target, call.value, call.data, call.predecessor, call.salt
        )
        return bytes(fn.call())

    def timestamp(self, operation_id: bytes) -> int:
        """0 unset, 1 done, else the time from which the operation may execute."""
        return int(self.contract.functions.getTimestamp(operation_id).call())

    def is_pending(self, operation_id: bytes) -> bool:
        return bool(self.contract.functions.isOperationPending(operation_id).call())

    def is_ready(self, operation_id: bytes) -> bool:
        return bool(self.contract.functions.isOperationReady(operation_id).call())

    def is_done(self, operation_id: bytes) -> bool:
        return bool(self.contract.functions.isOperationDone(operation_id).call())

    def role(self, name: str) -> bytes:
        """bytes32 id of PROPOSER_ROLE, EXECUTOR_ROLE, CANCELLER_ROLE or DEFAULT_ADMIN_ROLE."""
        if name == "DEFAULT_ADMIN_ROLE":
            return ZERO32
        if name not in TIMELOCK_ROLES:
            raise ValueError(f"unknown timelock role {name}")
        return Web3.keccak(text=name)

    def has_role(self, name: str, account: str) -> bool:
        return bool(self.contract.functions.hasRole(self.role(name), to_checksum_address(account)).call())

    # ---- writes (ContractFunctions, for a sender or a Safe to carry)
    def schedule(self, call: TimelockCall, delay: int) -> ContractFunction:
        return self.contract.functions.schedule(
            call.target, call.value, call.data, call.predecessor, call.salt, delay
        )

    def execute(self, call: TimelockCall) -> ContractFunction:
        return self.contract.functions.execute(
            call.target, call.value, call.data, call.predecessor, call.salt
        )

    def cancel(self, operation_id: bytes) -> ContractFunction:
        return self.contract.functions.cancel(operation_id)


@dataclass(frozen=True)
class ScheduledOperation:
    """A timelock operation as its events tell it (one call per operation: the CLI schedules no
    batches), and its state now: pending (waiting for its ETA), ready, done or cancelled."""

    operation_id: bytes
    call: TimelockCall
    delay: int
    scheduled_block: int
    eta: int  # 0 once cancelled, 1 once done (the contract's own markers)
    state: str


def _operation_state(eta: int, now: int) -> str:
    if eta == 0:
        return "cancelled"
    if eta == 1:
        return "done"
    return "ready" if eta <= now else "pending"


def scheduled_operations(
    timelock: TimelockContract, from_block: int, to_block: int | None = None, page: int = 10_000
) -> list[ScheduledOperation]:
    """Every operation scheduled on `timelock` since `from_block`, oldest first, from its
    CallScheduled and CallSalt events (read in pages of `page` blocks), with its state now."""
    w3 = timelock.w3
    last = w3.eth.block_number if to_block is None else to_block
    events = timelock.contract.events
    scheduled, salts = [], {}
    for start in range(from_block, last + 1, page):
        end = min(last, start + page - 1)
        scheduled += events.CallScheduled().get_logs(from_block=start, to_block=end)
        for log in events.CallSalt().get_logs(from_block=start, to_block=end):
            salts[bytes(log["args"]["id"])] = bytes(log["args"]["salt"])
    now = int(w3.eth.get_block("latest")["timestamp"])
    out = []
    for log in scheduled:
        a = log["args"]
        op_id = bytes(a["id"])
        call = TimelockCall(
            target=Address(to_checksum_address(a["target"])),
            data=bytes(a["data"]),
            value=int(a["value"]),
            predecessor=bytes(a["predecessor"]),
            salt=salts.get(op_id, ZERO32),
        )
        eta = timelock.timestamp(op_id)
        out.append(
            ScheduledOperation(
                op_id, call, int(a["delay"]), int(log["blockNumber"]), eta, _operation_state(eta, now)
            )
        )
    return out


def deploy_timelock(
    sender: Sender,
    min_delay: int,
    proposers: Sequence[str],
    executors: Sequence[str],
    admin: str = ZERO_ADDRESS,
    artifacts_dir: Path = DEFAULT_ARTIFACTS,
) -> TimelockContract:
    """TimelockController(minDelay, proposers, executors, admin); admin 0 = self-administered."""
    art = timelock_artifact(artifacts_dir)
    pending = sender.deploy(
        art.abi,
        art.bytecode,
        min_delay,
        [to_checksum_address(p) for p in proposers],
        [to_checksum_address(e) for e in executors],
        to_checksum_address(admin),
        label="deploy TimelockController",
    )
    receipt = sender.wait(pending)
    if receipt["contractAddress"] is None:
        raise TransactionFailed("deploy TimelockController: receipt has no contract address")
    return TimelockContract(sender.w3, Address(receipt["contractAddress"]), artifacts_dir)
