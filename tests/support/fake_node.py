"""A scripted Ethereum node for the transaction manager's unit tests: it answers the JSON-RPC
methods the manager uses from plain attributes and records every request. No sockets."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from staking.chain.rpc import RawRpc

GWEI = 10**9
SELECTOR = "0x12345678"


@dataclass
class FakeNode:
    chain_id: int = 31337
    pending_nonce: int = 0
    latest_nonce: int = 0
    head: int = 100
    head_hash: str = "0x" + "aa" * 32
    base_fee: int = GWEI
    tip: int = GWEI
    gas: int = 40_000
    reverts: dict[str, str] = field(default_factory=dict)  # calldata -> revert data
    refuse_sends: str | None = None  # the node's error message for every raw send
    receipts: dict[str, dict[str, Any]] = field(default_factory=dict)
    blocks: dict[int, str] = field(default_factory=dict)  # number -> hash
    unreachable: bool = False
    requests: list[tuple[str, list[Any]]] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)

    # ---- the transport RawRpc talks to
    def make_request(self, method: str, params: list[Any]) -> dict[str, Any]:
        if self.unreachable:
            raise ConnectionError("refused")
        self.requests.append((method, params))
        try:
            return {"jsonrpc": "2.0", "id": 0, "result": getattr(self, "_" + method)(*params)}
        except NodeError as exc:
            return {"jsonrpc": "2.0", "id": 0, "error": exc.error}

    def make_batch_request(self, calls: list[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
        if self.unreachable:
            raise ConnectionError("refused")
        return [{**self.make_request(m, p), "id": i} for i, (m, p) in enumerate(calls)]

    def rpc(self) -> RawRpc:
        return RawRpc(self.w3())  # type: ignore[arg-type]

    def w3(self) -> Any:
        return SimpleNamespace(provider=self)

    def methods(self) -> list[str]:
        return [m for m, _ in self.requests]

    # ---- methods
    def _eth_chainId(self) -> str:
        return hex(self.chain_id)

    def _eth_getTransactionCount(self, address: str, block: str) -> str:
        return hex(self.pending_nonce if block == "pending" else self.latest_nonce)

    def _eth_blockNumber(self) -> str:
        return hex(self.head)

    def _eth_getBlockByNumber(self, number: str, full: bool) -> dict[str, Any] | None:
        if number == "latest":
            return {"number": hex(self.head), "hash": self.head_hash, "timestamp": hex(1_700_000_000)}
        n = int(number, 16)
        return {"number": number, "hash": self.blocks[n]} if n in self.blocks else None

    def _eth_feeHistory(self, count: int, newest: str, percentiles: list[int]) -> dict[str, Any]:
        return {"baseFeePerGas": [hex(self.base_fee)] * 2, "reward": [[hex(self.tip)]]}

    def _eth_estimateGas(self, call: dict[str, Any]) -> str:
        self._revert_check(call)
        return hex(self.gas)

    def _eth_call(self, call: dict[str, Any], block: str) -> str:
        self._revert_check(call)
        if int(call["gas"], 16) < self.gas:
            raise NodeError({"code": -32000, "message": "out of gas"})
        return "0x"

    def _eth_sendRawTransaction(self, raw: str) -> str:
        if self.refuse_sends is not None:
            raise NodeError({"code": -32000, "message": self.refuse_sends})
        self.sent.append(raw)
        return "0x" + "00" * 32

    def _eth_getTransactionReceipt(self, tx_hash: str) -> dict[str, Any] | None:
        return self.receipts.get(tx_hash)

    def _revert_check(self, call: dict[str, Any]) -> None:
        if call["data"] in self.reverts:
            raise NodeError({"code": 3, "message": "execution reverted", "data": self.reverts[call["data"]]})

    # ---- scripting
    def mine(self, tx_hash: str, block: int, status: int = 1, to: str | None = None) -> None:
        block_hash = "0x" + f"{block:064x}"
        self.blocks[block] = block_hash
        self.receipts[tx_hash] = {
            "blockNumber": hex(block),
            "blockHash": block_hash,
            "transactionHash": tx_hash,
            "status": hex(status),
            "to": to,
        }


class NodeError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        self.error = error


@dataclass
class FakeCall:
    """What the manager reads of a web3 ContractFunction: its address and its calldata."""

    address: str
    data: str

    def _encode_transaction_data(self) -> str:
        return self.data


def call(n: int, to: str = "0x" + "5f" * 20) -> FakeCall:
    return FakeCall(to, SELECTOR + f"{n:064x}")
