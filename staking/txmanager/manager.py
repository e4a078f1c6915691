"""The service signer's transaction manager. It composes the pure state machine (`states`), its
records (`store`), the node (`client`), signing and sending (`dispatch`) and tracking
(`tracker`); this module plans intents and is what the rest of the service calls.

Guarantees, for one signer:
- Write-ahead: an intent row (nonce, signed payload, hash) is committed before the payload is
  sent, so after a crash every sent transaction is known and can be tracked or re-sent as is.
- Idempotency keys: one intent per key (`jail:<verdict id>` …), never a second transaction for
  the same purpose. The contract's own ids (verdict id = slash id) back this up on chain.
- Simulation (`eth_call` + gas estimate) before a nonce is taken: a call that would revert burns
  no nonce. A payload the node refuses keeps its nonce and is retried, then replaced by a no-op
  self-transfer, so no nonce gap can stall the signer.
- Stuck transactions are replaced with the same nonce and fees bumped >= 12.5 %. One that cannot
  be bumped within the fee cap is marked (`tx_intents.fee_capped_ms`, seen by every process) and
  announced once (`tx_fee_capped` webhook, through the outbox in the same transaction).
- Reorg awareness: an intent whose block left the canonical chain goes back to "sent".
- Fencing (see `store`): a deposed leader can never plan or sign; at most it re-sends a payload
  already recorded (same hash, harmless). Nonces live in the table, nothing else that could send
  is kept in memory.

The chain id is read from the node on first use (`reconcile()`, the first call that needs the
node anyway), so constructing a manager never touches the network.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine
from web3 import Web3
from web3.contract.contract import ContractFunction

from staking.chain.rpc import RawRpc
from staking.db.lock import Fence
from staking.txmanager.client import SimulationReverted, TxClient
from staking.txmanager.dispatch import Dispatcher
from staking.txmanager.states import TxConfig
from staking.txmanager.store import IntentStore, now_ms
from staking.txmanager.tracker import FEE_CAPPED_EVENT, Outbox, Tracker

__all__ = ["FEE_CAPPED_EVENT", "Outbox", "SimulationReverted", "TxConfig", "TxManager", "now_ms"]

log = logging.getLogger("txmanager")

OnPlanned = Callable[[Any, int, int], None]


class TxManager:
    """`outbox(conn, kind, data)` writes a webhook event in the caller's transaction (the
    notifier's `record`); without it, a transaction stuck at the fee cap is only recorded."""

    def __init__(
        self,
        engine: Engine,
        w3: Web3,
        account: LocalAccount,
        config: TxConfig | None = None,
        error_name: Callable[[str], str] | None = None,
        fence: Fence | None = None,
        outbox: Outbox | None = None,
    ) -> None:
        self.engine = engine
        self.w3 = w3
        self.account = account
        self.signer = account.address
        self.config = config or TxConfig()
        self.fence = fence
        self.rpc = RawRpc(w3)  # no request here: the chain id is asked for on first use
        self.client = TxClient(self.rpc, self.signer, self.config, error_name)
        self.store = IntentStore(engine, self.signer, fence)
        self.dispatcher = Dispatcher(self.store, self.client, account)
        self.tracker = Tracker(self.store, self.client, self.dispatcher, self.config, outbox)
        self._lock = threading.RLock()

    @property
    def chain_id(self) -> int:
        return self.client.chain_id()

    # ---------------------------------------------------------------- start-up
    def reconcile(self) -> None:
        """Align the persisted nonce with the chain and re-send whatever a crash left unsent."""
        with self._lock:
            chain_next = self.client.nonce("pending")
            self.client.chain_id()  # read now, outside any write transaction
            with self.store.write() as conn:
                next_nonce = self.store.reconcile_nonce(conn, chain_next)
            log.info(
                "nonce reconciled",
                extra={"signer": self.signer, "next_nonce": next_nonce, "chain_pending": chain_next},
            )
            self.tick()

    def tick(self) -> None:
        """One pass over open intents (see `Tracker.tick`)."""
        with self._lock:
            self.tracker.tick()

    def rpc_head(self) -> int:
        return self.client.head_number()

    # ---------------------------------------------------------------- submitting
    def intent_for(self, key: str) -> dict[str, Any] | None:
        return self.store.intent_by_key(key)

    def intent_state(self, intent_id: int) -> str | None:
        return self.store.state_of(intent_id)

    def simulate(self, fn: ContractFunction) -> int:
        """Gas estimate, which runs the call; raises SimulationReverted with the custom error's name."""
        return self.client.estimate(fn.address, fn._encode_transaction_data())

    def submit(self, key: str, fn: ContractFunction) -> int:
        """Sends `fn` once for `key` and returns the intent id (the existing one on a repeat).
        Raises SimulationReverted (nothing recorded, no nonce used) if the call would revert."""
        result = self.submit_many([(key, fn)])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def submit_many(
        self, calls: list[tuple[str, ContractFunction]], on_planned: OnPlanned | None = None
    ) -> list[int | Exception]:
        """`submit` for a batch, in one simulation request, one write-ahead database transaction
        and one send request. Each slot holds the intent id, or the exception for that call
        (SimulationReverted: nothing recorded, no nonce used; RpcError/NodeUnreachable: retry later).

        `on_planned(conn, slot, intent_id)` runs inside the write-ahead transaction for each new
        intent, so the caller's own record of it commits atomically with the intent."""
        with self._lock:
            results: list[int | Exception | None] = [None] * len(calls)
            existing = self.store.ids_for_keys([key for key, _ in calls])
            todo: list[tuple[int, str, str, str]] = []  # (slot, key, to, data)
            seen: dict[str, int] = {}
            for slot, (key, fn) in enumerate(calls):
                if key in existing:
                    results[slot] = existing[key]
                elif key not in seen:
                    seen[key] = slot
                    todo.append((slot, key, fn.address, fn._encode_transaction_data()))
            gases = self.client.simulate_many([(to, data) for _, _, to, data in todo])
            planned: list[int] = []
            if todo:
                fees = self.client.market_fees()
                with self.store.write() as conn:
                    for (slot, key, to, data), gas in zip(todo, gases, strict=True):
                        if isinstance(gas, Exception):
                            results[slot] = gas
                            continue
                        # The write-ahead record: an intent with its nonce and its signed payload.
                        nonce = self.store.take_nonce(conn)
                        intent_id = self.store.insert_intent(conn, key, nonce, to, data, gas, now_ms())
                        self.dispatcher.record_attempt(conn, intent_id, nonce, to, data, gas, fees)
                        if on_planned is not None:
                            on_planned(conn, slot, intent_id)
                        results[slot] = intent_id
                        planned.append(intent_id)
            self.dispatcher.send(planned)
            for slot, (key, _) in enumerate(calls):
                if results[slot] is None:  # a repeated key within the batch
                    results[slot] = results[seen[key]]
            return [r for r in results if r is not None]
