"""The chain as the rogue trial reads and writes it: events by name, one view over many accounts in
one JSON-RPC batch, and pre-signed transactions sent in batches whose reverts are named (the custom
error, from the node's call trace)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from staking.chain.contracts import StakingContract
from staking.devnet.harness import LocalDeployment
from staking.devnet.provision import BulkMiner, ProvisionError

GAS = 600_000  # per attack transaction: above the dearest call (proposeSlashQuorum with 2 signatures)


@dataclass(frozen=True)
class Call:
    """One contract call to send: `to` with calldata `data`; `ref` is the caller's own key for it
    (a verdict id, a provider)."""

    to: str
    data: str
    ref: str = ""


@dataclass(frozen=True)
class Sent:
    call: Call
    tx_hash: str
    ok: bool
    error: str | None  # the custom error's name when the transaction reverted
    gas_used: int
    block: int


@dataclass
class Tally:
    """What a batch of calls did: how many succeeded, and the reverts by error name."""

    attempts: int = 0
    succeeded: int = 0
    reverts: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    gas_used: int = 0

    def add(self, sent: Iterable[Sent]) -> Tally:
        for s in sent:
            self.attempts += 1
            self.gas_used += s.gas_used
            if s.ok:
                self.succeeded += 1
            else:
                self.reverts[s.error or "?"] += 1
        return self

    def as_json(self) -> dict[str, Any]:
        return {
            "attempts": self.attempts,
            "succeeded": self.succeeded,
            "reverted": sum(self.reverts.values()),
            "reverts_by_error": dict(self.reverts.most_common()),
            "gas_used": self.gas_used,
            "seconds": round(self.seconds, 2),
        }


class ChainView:
    def __init__(self, net: LocalDeployment) -> None:
        self.net = net
        self.w3 = net.node.w3
        self.staking: StakingContract = net.staking
        self.miner = BulkMiner(net.node.rpc_url)  # raw signing and batched JSON-RPC
        self.rpc = self.miner.rpc
        self._nonces: dict[str, int] = {}

    # ---- reading
    def head(self) -> int:
        return int(self.rpc.call("eth_blockNumber", []), 16)

    def chain_time(self) -> int:
        return int(self.rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)

    def events(self, name: str, from_block: int, to_block: int | None = None) -> list[Any]:
        event = getattr(self.staking.contract.events, name)
        return list(event.get_logs(from_block=from_block, to_block=to_block or self.head()))

    def block_times(self, blocks: Iterable[int]) -> dict[int, int]:
        numbers = sorted(set(blocks))
        found = self.miner.call_batched("eth_getBlockByNumber", [[hex(n), False] for n in numbers])
        return {n: int(b["timestamp"], 16) for n, b in zip(numbers, found, strict=True)}

    def view_many(self, fn: str, args: Sequence[tuple[Any, ...]]) -> list[Any]:
        """`fn(*a)` for every `a` of `args` at the head, in one batch of eth_calls; the first
        output of each."""
        function = self.staking.contract.get_function_by_name(fn)
        types = [o["type"] for o in function.abi["outputs"]]
        calls = [
            [
                {"to": self.staking.address, "data": self.staking.contract.encode_abi(fn, args=list(a))},
                "latest",
            ]
            for a in args
        ]
        out = self.miner.call_batched("eth_call", calls)
        return [self.w3.codec.decode(types, bytes.fromhex(r[2:]))[0] for r in out]

    def jailed(self, providers: Sequence[str]) -> dict[str, bool]:
        flags = self.view_many("isJailed", [(to_checksum_address(p),) for p in providers])
        return {p: bool(f) for p, f in zip(providers, flags, strict=True)}

    # ---- time
    def pass_veto_window(self) -> int:
        """Moves the chain's clock past the veto window and mines a block; returns the seconds."""
        seconds = self.staking.veto_window() + 1
        self.rpc.call("evm_increaseTime", [seconds])
        self.rpc.call("evm_mine", [])
        return seconds

    # ---- writing
    def send(self, account: LocalAccount, calls: Sequence[Call], *, mine: bool, gas: int = GAS) -> list[Sent]:
        """Signs `calls` with consecutive nonces of `account`, sends them in batches, and returns
        each one's receipt, with the custom error of every revert. `mine`: the chain does not
        mine by itself (inside `manual_mining`): mine until the pool is empty; else wait for the
        node's own blocks (automine or interval mining)."""
        if not calls:
            return []
        nonce = self._nonces.get(account.address)
        if nonce is None:
            nonce = self.miner.nonces([account.address])[0]
        raws = [self.miner.sign(account, c.to, c.data, nonce + i, gas) for i, c in enumerate(calls)]
        self._nonces[account.address] = nonce + len(calls)
        if mine:
            hashes = self.miner.send_and_mine(raws, check_receipts=False)
        else:
            hashes = [
                str(h)
                for h in self.miner.call_batched("eth_sendRawTransaction", [["0x" + r.hex()] for r in raws])
            ]
        receipts = self._receipts(hashes, timeout=120.0)
        failed = {
            h: int(r["blockNumber"], 16)
            for h, r in zip(hashes, receipts, strict=True)
            if int(r["status"], 16) != 1
        }
        errors = self._revert_names(failed)
        return [
            Sent(c, h, h not in failed, errors.get(h), int(r["gasUsed"], 16), int(r["blockNumber"], 16))
            for c, h, r in zip(calls, hashes, receipts, strict=True)
        ]

    def _receipts(self, hashes: list[str], timeout: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        found: dict[str, dict[str, Any]] = {}
        while True:
            missing = [h for h in hashes if h not in found]
            if not missing:
                return [found[h] for h in hashes]
            for h, r in zip(
                missing,
                self.miner.call_batched("eth_getTransactionReceipt", [[h] for h in missing]),
                strict=True,
            ):
                if r is not None:
                    found[h] = r
            if len(found) < len(hashes):
                if time.monotonic() > deadline:
                    raise ProvisionError(f"{len(hashes) - len(found)} transactions not mined in {timeout}s")
                time.sleep(0.2)

    def _revert_names(self, failed: dict[str, int]) -> dict[str, str]:
        """The custom error each reverted transaction (hash -> block) raised: each block that holds
        one is replayed with `eth_simulateV1` on its parent's state (every transaction of the
        block, in order, under the block's number and time), which gives each call's revert data
        in one pass over the block (tracing each transaction would replay its block once per
        transaction)."""
        names: dict[str, str] = {}
        for number in sorted(set(failed.values())):
            block = self.rpc.call("eth_getBlockByNumber", [hex(number), True])
            txs = block["transactions"]
            calls = [
                {k: tx[k] for k in ("from", "to", "input", "gas", "value") if tx.get(k) is not None}
                for tx in txs
            ]
            overrides = {"number": block["number"], "time": block["timestamp"], "gasLimit": block["gasLimit"]}
            simulated = self.rpc.call(
                "eth_simulateV1",
                [{"blockStateCalls": [{"blockOverrides": overrides, "calls": calls}]}, hex(number - 1)],
            )[0]["calls"]
            for tx, result in zip(txs, simulated, strict=True):
                if tx["hash"] not in failed:
                    continue
                data = str(result.get("returnData") or "0x")
                if int(result.get("status", "0x0"), 16) == 1:
                    names[tx["hash"]] = "? (succeeds when replayed)"
                else:
                    names[tx["hash"]] = (
                        self.staking.error_name(data) if len(data) >= 10 else "? (no revert data)"
                    )
        return names
