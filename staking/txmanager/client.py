"""The transaction manager's view of the node: JSON-RPC batches over `staking.chain.rpc.RawRpc`
(simulation, raw sends, receipts, fee history, nonces, heads). No database, no signing.

A transport failure raises `NodeUnreachable`, a node error `RpcError`; a call that would revert is
a `SimulationReverted` naming the contract's custom error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from staking.chain.rpc import RawRpc, RpcError
from staking.domain.errors import NodeUnreachable, SwarmError
from staking.txmanager.fees import Fees, fees_from_history
from staking.txmanager.states import Receipt, TxConfig


class SimulationReverted(SwarmError, RuntimeError):
    def __init__(self, error: str, detail: str = "") -> None:
        self.error = error
        super().__init__(f"{error} {detail}".strip())


class TxClient:
    def __init__(
        self,
        rpc: RawRpc,
        signer: str,
        config: TxConfig,
        error_name: Callable[[str], str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rpc = rpc
        self.signer = signer
        self.config = config
        self._error_name = error_name or (lambda data: data[:10])
        self._clock = clock
        self._chain_id: int | None = None
        self._fees: tuple[float, Fees] | None = None
        self.gas_cap: dict[str, int] = {}  # selector -> gas limit (see simulate_many)

    # ---------------------------------------------------------------- the chain
    def chain_id(self) -> int:
        """Asked once, on first use (a chain's id does not change under a running process)."""
        if self._chain_id is None:
            self._chain_id = int(self.rpc.call("eth_chainId", []), 16)
        return self._chain_id

    def nonce(self, block: str) -> int:
        """The signer's transaction count at `block` ("pending" or "latest")."""
        return int(self.rpc.call("eth_getTransactionCount", [self.signer, block]), 16)

    def head(self) -> tuple[int, str]:
        """(number, hash) of the latest block."""
        block = self.rpc.call("eth_getBlockByNumber", ["latest", False])
        return int(block["number"], 16), block["hash"]

    def head_number(self) -> int:
        return int(self.rpc.call("eth_blockNumber", []), 16)

    def block_hash(self, number: int) -> str | None:
        block = self.rpc.call("eth_getBlockByNumber", [hex(number), False])
        return block["hash"] if block else None

    def market_fees(self) -> Fees:
        """From `eth_feeHistory`, asked at most once a second (a burst shares one answer). Raises
        FeeCapExceeded when the market is above the policy's cap."""
        now = self._clock()
        if self._fees is None or now - self._fees[0] >= 1.0:
            history = self.rpc.call("eth_feeHistory", [5, "latest", [self.config.fees.reward_percentile]])
            self._fees = (now, fees_from_history(history, self.config.fees))
        return self._fees[1]

    # ---------------------------------------------------------------- simulation
    def estimate(self, to: str, data: str) -> int:
        """Gas estimate, which runs the call; raises SimulationReverted with the custom error's name."""
        try:
            return int(self.rpc.call("eth_estimateGas", [{"from": self.signer, "to": to, "data": data}]), 16)
        except RpcError as exc:
            raise self.simulation_error(exc) from None

    def simulate_many(self, calls: list[tuple[str, str]]) -> list[int | Exception]:
        """The gas limit to send each (to, data) with, or why it cannot be sent.

        A function seen before is simulated with one `eth_call` at the gas limit it will be sent
        with (the highest padded estimate seen for its selector: the margin, then the headroom
        for state that moves before inclusion): if the call succeeds
        within that limit, the transaction will too, on the same state. Only new functions, and
        calls that need more gas than that, pay for `eth_estimateGas`, which runs the call many
        times over to search for the limit."""
        out: list[int | Exception | None] = [None] * len(calls)
        capped = [i for i, (_, data) in enumerate(calls) if data[:10] in self.gas_cap]
        answers = self.rpc.batch(
            [
                (
                    "eth_call",
                    [
                        {
                            "from": self.signer,
                            "to": calls[i][0],
                            "data": calls[i][1],
                            "gas": hex(self.gas_cap[calls[i][1][:10]]),
                        },
                        "latest",
                    ],
                )
                for i in capped
            ]
        )
        for i, answer in zip(capped, answers, strict=True):
            if not isinstance(answer, RpcError):
                out[i] = self.gas_cap[calls[i][1][:10]]
            elif answer.data and len(answer.data) >= 10:
                out[i] = self.simulation_error(answer)  # a revert, not a gas shortage
        rest = [i for i in range(len(calls)) if out[i] is None]
        estimates = self.rpc.batch(
            [
                ("eth_estimateGas", [{"from": self.signer, "to": calls[i][0], "data": calls[i][1]}])
                for i in rest
            ]
        )
        for i, estimate in zip(rest, estimates, strict=True):
            if isinstance(estimate, RpcError):
                out[i] = self.simulation_error(estimate)
                continue
            gas = int(estimate, 16) * (100 + self.config.gas_margin_percent) // 100 + self.config.gas_headroom
            selector = calls[i][1][:10]
            self.gas_cap[selector] = max(gas, self.gas_cap.get(selector, 0))
            out[i] = gas
        return [r for r in out if r is not None]

    def simulation_error(self, exc: RpcError) -> Exception:
        if exc.data and len(exc.data) >= 10:
            return SimulationReverted(self._error_name(exc.data), exc.data)
        if "revert" in exc.message.lower():
            return SimulationReverted("Revert", exc.message)
        return exc

    # ---------------------------------------------------------------- sending and receipts
    def send_raw_many(self, raw_txs: list[str]) -> list[str | None]:
        """Sends the signed payloads in one batch; each slot is None when the node took it, or the
        node's (or the transport's) error message."""
        try:
            answers: list[Any] = self.rpc.batch([("eth_sendRawTransaction", [raw]) for raw in raw_txs])
        except NodeUnreachable as exc:
            answers = [exc] * len(raw_txs)
        return [str(a) if isinstance(a, Exception) else None for a in answers]

    def receipts(self, tx_hashes: list[str]) -> list[Receipt | None]:
        """The receipt of each transaction (None: not mined), in one batch request."""
        out: list[Receipt | None] = []
        for raw in self.rpc.batch([("eth_getTransactionReceipt", [h]) for h in tx_hashes]):
            if isinstance(raw, RpcError):
                raise raw
            if raw is None or not raw.get("blockNumber"):
                out.append(None)
                continue
            out.append(
                Receipt(
                    block=int(raw["blockNumber"], 16),
                    block_hash=raw["blockHash"],
                    tx_hash=raw["transactionHash"],
                    status=int(raw["status"], 16),
                    to=raw.get("to"),
                )
            )
        return out
