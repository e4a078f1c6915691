"""Helpers for tests that drive SwarmStaking on a real Anvil."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.logs import DISCARD
from web3.types import TxReceipt

from staking.chain.contracts import StakingContract, TokenContract
from staking.chain.sender import Sender
from staking.deploy import StakingParams, apply_bounds
from staking.deployment import Deployment
from staking.devnet.accounts import GOVERNANCE, devnet_account
from tests.support.signing import SignsVerdicts

STRANGER_INDEX = 11  # unlocked by anvil --accounts 20, holds no role and is not a provider


class RevertMismatch(AssertionError):
    pass


def error_selectors(abi: list[dict[str, Any]]) -> dict[str, str]:
    """'0x<4-byte selector>' -> error name, for every custom error in `abi`."""
    out = {}
    for item in abi:
        if item["type"] == "error":
            sig = f"{item['name']}({','.join(_abi_type(i) for i in item['inputs'])})"
            out["0x" + keccak(text=sig)[:4].hex()] = item["name"]
    return out


def _abi_type(inp: dict[str, Any]) -> str:
    if inp["type"].startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in inp["components"]) + ")" + inp["type"][5:]
    return str(inp["type"])


@dataclass
class Chain(SignsVerdicts):
    w3: Web3
    deployment: Deployment
    staking: StakingContract = field(init=False)
    token: TokenContract = field(init=False)
    gas_used: dict[str, list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.staking = StakingContract(self.w3, self.deployment.contracts.SwarmStaking)
        self.token = TokenContract(self.w3, self.deployment.contracts.SwarmToken)
        self._selectors = error_selectors(self.staking.abi) | error_selectors(list(self.token.contract.abi))

    # ---- accounts
    @property
    def governance(self) -> str:
        return self.deployment.accounts.governance

    @property
    def service(self) -> str:
        return self.deployment.accounts.service

    @property
    def detector(self) -> str:
        return self.deployment.accounts.detector

    @property
    def providers(self) -> list[str]:
        return self.deployment.accounts.providers

    @property
    def treasury(self) -> str:
        return self.staking.treasury()

    def account(self, index: int) -> LocalAccount:
        return devnet_account(index)

    @property
    def stranger(self) -> str:
        return devnet_account(STRANGER_INDEX).address

    # ---- raw RPC and time
    @contextmanager
    def reverted(self) -> Iterator[Chain]:
        """This chain, with everything done inside the block undone afterwards (evm_snapshot)."""
        snapshot = self.rpc("evm_snapshot")
        try:
            yield self
        finally:
            assert self.rpc("evm_revert", snapshot) is True

    def rpc(self, method: str, *params: Any) -> Any:
        response = self.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
        if "error" in response:
            raise RuntimeError(f"{method} failed: {response['error']}")
        return response["result"]

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def set_next_timestamp(self, ts: int) -> None:
        self.rpc("evm_setNextBlockTimestamp", ts)

    def mine(self, timestamp: int | None = None) -> None:
        if timestamp is not None:
            self.set_next_timestamp(timestamp)
        self.rpc("evm_mine")

    def advance(self, seconds: int) -> None:
        self.mine(self.now() + seconds)

    # ---- transactions (Anvil accounts are unlocked: no local signing needed)
    def tx(self, fn: ContractFunction, sender: str, label: str | None = None) -> TxReceipt:
        tx_hash = fn.transact({"from": to_checksum_address(sender)})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.01)
        assert receipt["status"] == 1, f"{fn.fn_name} reverted"
        self.gas_used.setdefault(label or fn.fn_name, []).append(int(receipt["gasUsed"]))
        return receipt

    def tx_at(self, timestamp: int, fn: ContractFunction, sender: str) -> TxReceipt:
        """Mine `fn` in a block with exactly `timestamp` (for boundary tests).

        The call is sent with explicit gas, so no estimate runs against the previous block's time."""
        self.set_next_timestamp(timestamp)
        tx_hash = fn.transact({"from": to_checksum_address(sender), "gas": 1_000_000})
        return self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.01)

    def expect_revert(self, fn: ContractFunction, sender: str, error: str, *args: Any) -> None:
        """Assert that `fn` from `sender` reverts with custom error `error` (and, if given, `args`)."""
        try:
            fn.call({"from": to_checksum_address(sender)})
        except ContractCustomError as exc:
            data = exc.data if isinstance(exc.data, str) else str(exc.message)
            name = self._selectors.get(data[:10])
            if name != error:
                raise RevertMismatch(f"{fn.fn_name}: expected {error}, got {name or data}") from exc
            if args:
                decoded = self.decode_error(data)
                if tuple(decoded) != tuple(args):
                    raise RevertMismatch(f"{fn.fn_name}: {error} args {decoded} != {args}") from exc
            return
        except ContractLogicError as exc:
            raise RevertMismatch(f"{fn.fn_name}: expected {error}, got {exc}") from exc
        raise RevertMismatch(f"{fn.fn_name} from {sender} did not revert (expected {error})")

    def expect_revert_at(
        self, timestamp: int, fn: ContractFunction, sender: str, error: str, *args: Any
    ) -> None:
        """Mine `fn` at exactly `timestamp` and assert the transaction reverted with `error` (and,
        if given, `args`)."""
        receipt = self.tx_at(timestamp, fn, sender)
        assert receipt["status"] == 0, f"{fn.fn_name} unexpectedly succeeded at {timestamp}"
        tx = self.w3.eth.get_transaction(receipt["transactionHash"])
        # Replay on the parent state with the mined block's own number and timestamp (eth_call block
        # overrides), so boundary reverts are checked by name, not only by status.
        call = {"from": tx["from"], "to": tx["to"], "data": tx["input"].to_0x_hex(), "gas": hex(tx["gas"])}
        overrides = {"time": hex(timestamp), "number": hex(receipt["blockNumber"])}
        response = self.w3.provider.make_request(  # type: ignore[arg-type]
            "eth_call", [call, hex(receipt["blockNumber"] - 1), {}, overrides]
        )
        data = (response.get("error") or {}).get("data")
        assert isinstance(data, str), f"{fn.fn_name}: replay at {timestamp} did not revert: {response}"
        name = self._selectors.get(data[:10])
        assert name == error, f"{fn.fn_name}: expected {error}, got {name or data}"
        if args:
            decoded = self.decode_error(data)
            assert tuple(decoded) == tuple(args), f"{fn.fn_name}: {error} args {decoded} != {args}"

    def decode_error(self, data: str) -> list[Any]:
        from eth_abi import decode

        name = self._selectors[data[:10]]
        item = next(i for i in self.staking.abi if i["type"] == "error" and i["name"] == name)
        return list(decode([_abi_type(i) for i in item["inputs"]], bytes.fromhex(data[10:])))

    def tx_ok_at(
        self, timestamp: int, fn: ContractFunction, sender: str, label: str | None = None
    ) -> TxReceipt:
        """Mine `fn` at exactly `timestamp` and assert it succeeded (gas recorded as in `tx`)."""
        receipt = self.tx_at(timestamp, fn, sender)
        assert receipt["status"] == 1, f"{fn.fn_name} reverted at {timestamp}"
        self.gas_used.setdefault(label or fn.fn_name, []).append(int(receipt["gasUsed"]))
        return receipt

    def block_time(self, receipt: TxReceipt) -> int:
        return int(self.w3.eth.get_block(receipt["blockNumber"])["timestamp"])

    # ---- events
    def events(self, receipt: TxReceipt, name: str) -> list[dict[str, Any]]:
        """Decoded arguments of every `name` event SwarmStaking emitted in `receipt`."""
        event = self.staking.contract.events[name]()
        return [dict(e["args"]) for e in event.process_receipt(receipt, errors=DISCARD)]

    def one_event(self, receipt: TxReceipt, name: str) -> dict[str, Any]:
        found = self.events(receipt, name)
        assert len(found) == 1, f"expected exactly one {name}, got {found}"
        return found[0]

    # ---- the caps (the devnet opens them wide; a test of the caps sets tight ones itself)
    def bound(self, **changes: Any) -> StakingParams:
        """Sets the caps, severity bounds and quorum of `StakingParams.devnet()` with `changes`
        (field names of StakingParams), as governance does with `apply_bounds`."""
        params = dataclasses.replace(StakingParams.devnet(), **changes)
        apply_bounds(Sender(self.w3, devnet_account(GOVERNANCE)), self.staking, params)
        return params

    def bucket_start(self, window: int, after: int | None = None) -> int:
        """The first second of the next cap bucket (`ceil(window / 24)` seconds) after `after`
        (default: the latest block)."""
        length = -(-window // 24)
        return ((self.now() if after is None else after) // length + 1) * length

    def grant_detector(self, index: int) -> bytes:
        """Grants DETECTOR_ROLE to devnet account `index`; returns its private key."""
        account = devnet_account(index)
        self.tx(self.staking.grant_role("DETECTOR_ROLE", account.address), self.governance)
        return bytes(account.key)

    # ---- verdicts
    def verdict_domain(self) -> tuple[int, str]:
        return int(self.w3.eth.chain_id), self.staking.address

    # ---- token conservation
    def holders(self) -> list[str]:
        extra = [self.treasury, self.staking.address, self.stranger]
        return [self.governance, self.service, self.detector, *self.providers, *extra]

    def approve_and_stake(self, provider: str, amount: int) -> None:
        self.tx(self.token.approve(self.staking.address, amount), provider)
        self.tx(self.staking.stake(amount), provider)


Call = Callable[..., ContractFunction]
