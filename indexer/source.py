"""Reading the chain for the indexer: heads, block headers and logs over raw JSON-RPC.

Raw `make_request` skips web3's result formatters (the indexer parses what it needs itself).
Transport failures raise `NodeUnreachable`; a node refusing a log range raises `RangeTooLarge`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from web3 import Web3

from staking.chain.rpc import RawRpc, RpcError, RpcTimeout
from staking.domain.errors import SwarmError


class RangeTooLarge(SwarmError, RuntimeError):
    pass


# Phrases nodes use when a getLogs range or result set is too big (geth, erigon, anvil,
# hosted providers); any other RPC error on getLogs is treated the same way once, then escalates.
TOO_MANY = ("too many", "query returned more than", "limit exceeded", "range", "response size", "timeout")


@dataclass(frozen=True)
class Header:
    number: int
    hash: str
    parent_hash: str
    timestamp: int


class ChainSource:
    def __init__(self, w3: Web3, address: str) -> None:
        self.w3 = w3
        self.address = address
        self.rpc = RawRpc(w3)

    def _call(self, method: str, params: list[Any]) -> Any:
        return self.rpc.call(method, params)

    def chain_id(self) -> int:
        return int(self._call("eth_chainId", []), 16)

    def code_size(self) -> int:
        code = self._call("eth_getCode", [self.address, "latest"])
        return (len(code) - 2) // 2

    def head(self) -> int:
        return int(self._call("eth_blockNumber", []), 16)

    def header(self, block: int | str) -> Header | None:
        tag = hex(block) if isinstance(block, int) else block
        raw = self._call("eth_getBlockByNumber", [tag, False])
        if raw is None:
            return None
        return Header(int(raw["number"], 16), raw["hash"], raw["parentHash"], int(raw["timestamp"], 16))

    def finalized(self) -> int | None:
        try:
            h = self.header("finalized")
        except RpcError:
            return None  # nodes without the tag
        return h.number if h else None

    def logs(self, from_block: int, to_block: int) -> list[dict[str, Any]]:
        params = [{"address": self.address, "fromBlock": hex(from_block), "toBlock": hex(to_block)}]
        try:
            return list(self._call("eth_getLogs", params))
        except RpcTimeout as exc:
            raise RangeTooLarge(f"timed out: {exc}") from None  # a slow page is a too-large page
        except RpcError as exc:
            if any(p in exc.message.lower() for p in TOO_MANY) or exc.code in (-32005, -32602):
                raise RangeTooLarge(exc.message) from None
            raise
