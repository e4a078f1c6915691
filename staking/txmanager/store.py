"""The transaction manager's records: intents, their signed attempts and the signer's next nonce
(tables `tx_intents`, `tx_attempts`, `signer_nonces` of `staking.db.schema`), fenced.

Every write joins the transaction its caller passes (`conn`), opened with `write()`. With a
`Fence` (several workers, one leader), the first write of each transaction checks in that same
transaction that the leader lease is still at this manager's term and raises LostLeadership
otherwise, so a deposed leader never takes a nonce, records a payload or marks a send.

`fee_capped_isolations` and `fee_capped_by_kind` read what any process (an API replica) needs to
know about intents stuck at the fee cap.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from staking.db import schema as t
from staking.db.lock import Fence
from staking.domain.vocabulary import TxState
from staking.txmanager.states import OPEN_STATES, action_kind

__all__ = [
    "IntentStore",
    "fee_cap_readiness",
    "fee_capped_by_kind",
    "fee_capped_isolations",
    "now_ms",
]

ISOLATION_PREFIX = "jail:"


def now_ms() -> int:
    """The records' clock: unix milliseconds."""
    return int(time.time() * 1000)


_i, _a = t.tx_intents, t.tx_attempts


def _states(states: tuple[str, ...]) -> list[str]:
    return [str(s) for s in states]  # plain strings for every driver


class IntentStore:
    def __init__(self, engine: Engine, signer: str, fence: Fence | None = None) -> None:
        self.engine = engine
        self.signer = signer
        self.fence = fence
        self._fenced: Any = None  # the database transaction the fence was last checked in

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (the fence is checked at its first write)."""
        with self.engine.begin() as conn:
            yield conn

    def check_fence(self, conn: Connection) -> None:
        """Raises LostLeadership unless this manager's term is still the lease's (see `Fence`).
        Checked once per database transaction."""
        if self.fence is None:
            return
        transaction = conn.get_transaction()
        if transaction is not None and transaction is self._fenced:
            return
        self.fence.check(conn)
        self._fenced = transaction

    # ---------------------------------------------------------------- nonces
    def reconcile_nonce(self, conn: Connection, chain_next: int) -> int:
        """The next nonce: the highest of the stored one, the last intent's + 1 and the chain's."""
        self.check_fence(conn)
        n = t.signer_nonces
        row = conn.execute(select(n).where(n.c.signer == self.signer)).first()
        highest = conn.execute(
            select(_i.c.nonce).where(_i.c.signer == self.signer).order_by(_i.c.nonce.desc()).limit(1)
        ).scalar()
        db_next = max(row.next_nonce if row else 0, (highest + 1) if highest is not None else 0)
        next_nonce = max(db_next, chain_next)
        if row is None:
            conn.execute(n.insert().values(signer=self.signer, next_nonce=next_nonce))
        else:
            conn.execute(update(n).where(n.c.signer == self.signer).values(next_nonce=next_nonce))
        return next_nonce

    def take_nonce(self, conn: Connection) -> int:
        self.check_fence(conn)
        n = t.signer_nonces
        q = select(n.c.next_nonce).where(n.c.signer == self.signer)
        if self.engine.dialect.name == "postgresql":
            q = q.with_for_update()
        nonce = conn.execute(q).scalar()
        if nonce is None:
            raise RuntimeError("nonce not reconciled: call reconcile() at start-up")
        conn.execute(update(n).where(n.c.signer == self.signer).values(next_nonce=nonce + 1))
        return int(nonce)

    # ---------------------------------------------------------------- writes
    def insert_intent(
        self, conn: Connection, key: str, nonce: int, to: str, data: str, gas: int, now_ms: int
    ) -> int:
        self.check_fence(conn)
        inserted = conn.execute(
            _i.insert().values(
                idempotency_key=key,
                signer=self.signer,
                nonce=nonce,
                to_address=to,
                data=data,
                gas=gas,
                state=str(TxState.PLANNED),
                attempts=0,
                created_ms=now_ms,
            )
        ).inserted_primary_key
        assert inserted is not None
        return int(inserted[0])

    def add_attempt(
        self,
        conn: Connection,
        intent_id: int,
        tx_hash: str,
        raw_tx: str,
        max_fee: int,
        priority_fee: int,
        now_ms: int,
    ) -> None:
        """A signed payload of the intent, now its latest."""
        self.check_fence(conn)
        conn.execute(
            _a.insert().values(
                tx_hash=tx_hash,
                intent_id=intent_id,
                raw_tx=raw_tx,
                max_fee=max_fee,
                priority_fee=priority_fee,
                created_ms=now_ms,
            )
        )
        conn.execute(
            update(_i).where(_i.c.id == intent_id).values(tx_hash=tx_hash, attempts=_i.c.attempts + 1)
        )

    def set(self, conn: Connection, intent_id: int, **values: Any) -> None:
        self.check_fence(conn)
        if "state" in values:
            values["state"] = str(values["state"])
        conn.execute(update(_i).where(_i.c.id == intent_id).values(**values))

    def mark_fee_capped(self, conn: Connection, intent_id: int, now_ms: int) -> bool:
        """Records that the intent cannot be bumped within the fee cap; True the first time."""
        self.check_fence(conn)
        marked = conn.execute(
            update(_i).where(_i.c.id == intent_id, _i.c.fee_capped_ms.is_(None)).values(fee_capped_ms=now_ms)
        )
        return bool(marked.rowcount)

    # ---------------------------------------------------------------- reads
    def payloads(self, conn: Connection, intent_ids: list[int]) -> dict[int, Any]:
        """id -> (id, state, raw_tx) of each intent's latest attempt, read in a fenced transaction."""
        self.check_fence(conn)  # a deposed leader stays quiet (a re-send would be harmless)
        rows = conn.execute(
            select(_i.c.id, _i.c.state, _a.c.raw_tx)
            .join(_a, _a.c.tx_hash == _i.c.tx_hash)
            .where(_i.c.id.in_(intent_ids))
        )
        return {r.id: r for r in rows}

    def intent_by_key(self, key: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(_i).where(_i.c.idempotency_key == key)).mappings().first()
            return dict(row) if row else None

    def state_of(self, intent_id: int) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(_i.c.state).where(_i.c.id == intent_id)).scalar()

    def ids_for_keys(self, keys: list[str]) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(_i.c.idempotency_key, _i.c.id).where(_i.c.idempotency_key.in_(keys)))
            return {k: int(i) for k, i in rows}

    def open_intents(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            q = select(_i).where(_i.c.signer == self.signer, _i.c.state.in_(_states(OPEN_STATES)))
            return [dict(r) for r in conn.execute(q.order_by(_i.c.nonce)).mappings()]

    def attempt_hashes(self, intent_ids: list[int]) -> list[tuple[int, str]]:
        """(intent id, tx hash) of every attempt of the intents, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(_a.c.intent_id, _a.c.tx_hash)
                .where(_a.c.intent_id.in_(intent_ids))
                .order_by(_a.c.created_ms.desc())
            )
            return [(int(r.intent_id), r.tx_hash) for r in rows]

    def attempt(self, tx_hash: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            return dict(conn.execute(select(_a).where(_a.c.tx_hash == tx_hash)).mappings().one())

    def recent_confirmed(self, head: int, window: int) -> list[dict[str, Any]]:
        """Confirmed intents mined in the last `window` blocks up to `head`."""
        with self.engine.connect() as conn:
            q = select(_i.c.id, _i.c.state, _i.c.mined_block, _i.c.mined_block_hash).where(
                _i.c.signer == self.signer,
                _i.c.state == str(TxState.CONFIRMED),
                _i.c.mined_block > head - window,
            )
            return [dict(r) for r in conn.execute(q).mappings()]

    def waiting_ids(self) -> list[int]:
        """Intents whose payload waits in the node's pool (sent, or voiding)."""
        with self.engine.connect() as conn:
            q = select(_i.c.id).where(
                _i.c.signer == self.signer, _i.c.state.in_(_states((TxState.SENT, TxState.VOIDING)))
            )
            return [int(i) for i in conn.execute(q).scalars()]


# ------------------------------------------------------------------------ intents at the fee cap


def fee_capped_isolations(conn: Connection) -> list[dict[str, Any]]:
    """Open isolations (`jail:<verdict id>` intents) that cannot be bumped within the fee cap, by
    nonce: key, verdict_id, signer, nonce, state, tx_hash, max_fee and priority_fee of the latest
    payload (wei per gas), created_ms, sent_ms, fee_capped_ms. Empty when none."""
    q = (
        select(
            _i.c.idempotency_key,
            _i.c.signer,
            _i.c.nonce,
            _i.c.state,
            _i.c.tx_hash,
            _a.c.max_fee,
            _a.c.priority_fee,
            _i.c.created_ms,
            _i.c.sent_ms,
            _i.c.fee_capped_ms,
        )
        .outerjoin(_a, _a.c.tx_hash == _i.c.tx_hash)
        .where(
            _i.c.fee_capped_ms.is_not(None),
            _i.c.state.in_(_states(OPEN_STATES)),
            _i.c.idempotency_key.startswith(ISOLATION_PREFIX),
        )
        .order_by(_i.c.signer, _i.c.nonce)
    )
    out = []
    for r in conn.execute(q).mappings():
        row = dict(r)
        key = row.pop("idempotency_key")
        out.append({"key": key, "verdict_id": key.split(":", 1)[1], **row})
    return out


def fee_capped_by_kind(conn: Connection) -> dict[str, int]:
    """Open intents stuck at the fee cap, counted by action kind (`jail`, `propose_slash` …)."""
    q = select(_i.c.idempotency_key).where(
        _i.c.fee_capped_ms.is_not(None), _i.c.state.in_(_states(OPEN_STATES))
    )
    counts: dict[str, int] = {}
    for key in conn.execute(q).scalars():
        kind = action_kind(key)
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def fee_cap_readiness(conn: Connection, named: int = 10) -> tuple[dict[str, Any], str | None]:
    """(check, failure) for `/readyz`, shaped like the drift check's: `degraded` while an isolation
    is stuck at the fee cap, naming up to `named` of them; failure None when there are none."""
    stuck = fee_capped_isolations(conn)
    if not stuck:
        return {"status": "ok"}, None
    shown = stuck[:named]
    more = f" and {len(stuck) - len(shown)} more" if len(stuck) > len(shown) else ""
    failure = (
        f"{len(stuck)} isolation(s) stuck at the fee cap, cannot be replaced with higher fees: "
        + ", ".join(f"{s['key']} (nonce {s['nonce']})" for s in shown)
        + more
    )
    return {"status": "degraded", "isolations_total": len(stuck), "isolations": shown}, failure
