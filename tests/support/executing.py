"""Driving the action executor against the devnet in tests: a transaction manager for the service
account, a recorded webhook feed, and reads of the actions and intents a verdict produced."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select

from staking.db import schema as t
from staking.devnet.accounts import devnet_account
from staking.policy import Policy, load_policy
from staking.txmanager.manager import TxConfig, TxManager
from staking.worker.executor import ActionExecutor
from tests.support.chain import Chain


@dataclass
class Driven:
    executor: ActionExecutor
    txm: TxManager
    engine: Engine
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def steps(self, n: int = 3) -> None:
        for _ in range(n):
            self.executor.step()

    def actions(self, verdict_id: str) -> dict[str, dict[str, Any]]:
        a, i = t.actions, t.tx_intents
        q = (
            select(a.c.kind, a.c.state, a.c.note, a.c.intent_id, i.c.idempotency_key)
            .outerjoin(i, i.c.id == a.c.intent_id)
            .where(a.c.verdict_id == verdict_id)
        )
        with self.engine.connect() as conn:
            return {r["kind"]: dict(r) for r in conn.execute(q).mappings()}

    def intent_keys(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(t.tx_intents.c.idempotency_key)).scalars())

    def verdict_status(self, verdict_id: str) -> str:
        with self.engine.connect() as conn:
            return str(
                conn.execute(select(t.verdicts.c.status).where(t.verdicts.c.id == verdict_id)).scalar_one()
            )

    def kinds_sent(self, kind: str) -> list[dict[str, Any]]:
        return [payload for k, payload in self.sent if k == kind]


def drive(
    engine: Engine, chain: Chain, clock: Callable[[], float] | None = None, policy: Policy | None = None
) -> Driven:
    s = chain.staking
    txm = TxManager(engine, chain.w3, devnet_account(1), TxConfig(), error_name=s.error_name)
    txm.reconcile()
    sent: list[tuple[str, dict[str, Any]]] = []
    executor = ActionExecutor(
        engine,
        s,
        txm,
        notify=lambda kind, payload: sent.append((kind, payload)),
        clock=clock or (lambda: float(chain.now())),
        policy=policy or load_policy(),
    )
    return Driven(executor, txm, engine, sent)
