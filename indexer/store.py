"""The indexer's side of the database: applying a batch of events to the projection in one
transaction (checkpoint included), chain identity, and rolling back orphaned blocks.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Table, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from indexer.appeals import APPEAL_EVENTS, APPEAL_WEBHOOK, AppealRow, appeal_notice
from indexer.projection import (
    EPOCH_EVENTS,
    GROUP_PARAM_EVENTS,
    PARAM_EVENTS,
    PROVIDER_EVENTS,
    EpochRow,
    Projection,
    ProviderRow,
    SlashRow,
    event_keys,
    row_dict,
    row_from,
)
from staking.db import schema as t
from staking.db.stream import KIND_OF_EVENT, append
from staking.domain.errors import SwarmError
from staking.domain.events import DecodedEvent

GLOBAL_EVENTS = frozenset(
    {
        *PARAM_EVENTS,
        *GROUP_PARAM_EVENTS,
        "SeverityBoundsSet",
        "ClassParamsSet",
        "Paused",
        "Unpaused",
        "RoleGranted",
        "RoleRevoked",
    }
)
# Events replayed per provider after a reorg: its own, its slashes' and its appeals'.
PROVIDER_REPLAY = PROVIDER_EVENTS | APPEAL_EVENTS
CHUNK = 500  # keys per IN (...) query
_JSON = json.JSONEncoder(separators=(",", ":"))  # one encoder for all rows (Python's json keeps big ints)
# Writes a webhook event in the caller's transaction (`WebhookNotifier.record`).
Outbox = Callable[[Connection, str, dict[str, Any]], None]


class ChainMismatch(SwarmError, RuntimeError):
    pass


@dataclass(frozen=True)
class ChainIdentity:
    chain_id: int
    genesis_hash: str
    staking_address: str
    deployed_block: int
    epoch_genesis: int
    epoch_length: int

    def as_meta(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Checkpoint:
    block: int
    hash: str | None  # None before the first batch


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class Store:
    def __init__(
        self,
        engine: Engine,
        fence: Callable[[Connection], None] | None = None,
        outbox: Outbox | None = None,
    ) -> None:
        self.engine = engine
        # Run first in every write transaction; raises when this process no longer leads the
        # indexer role (staking.db.lock.Fence.check), so a deposed leader cannot move the checkpoint.
        self.fence = fence
        # The council's `appeal` webhook for each newly indexed SlashAppealed, in the batch's own
        # transaction: announced once, with the batch that indexed it (again if a reorg moves it).
        self.outbox = outbox
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def _fenced(self, conn: Connection) -> None:
        if self.fence is not None:
            self.fence(conn)

    # ---- meta
    def read_meta(self, conn: Connection | None = None) -> dict[str, str]:
        if conn is None:
            with self.engine.connect() as c:
                return self.read_meta(c)
        return {r.key: r.value for r in conn.execute(select(t.meta))}

    def write_meta(self, conn: Connection, values: dict[str, str]) -> None:
        if not values:
            return
        stmt = self._insert(t.meta).values([{"key": k, "value": v} for k, v in values.items()])
        conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": stmt.excluded.value}))

    def ensure_identity(self, identity: ChainIdentity) -> None:
        """Record the chain on first use; afterwards refuse any other chain."""
        with self.engine.begin() as conn:
            self._fenced(conn)
            meta = self.read_meta(conn)
            if "genesis_hash" not in meta:
                self.write_meta(conn, identity.as_meta())
                return
        stored = ChainIdentity(
            chain_id=int(meta["chain_id"]),
            genesis_hash=meta["genesis_hash"],
            staking_address=meta["staking_address"],
            deployed_block=int(meta["deployed_block"]),
            epoch_genesis=int(meta["epoch_genesis"]),
            epoch_length=int(meta["epoch_length"]),
        )
        for name in ("chain_id", "genesis_hash", "staking_address"):
            if getattr(stored, name) != getattr(identity, name):
                raise ChainMismatch(
                    f"this database was built from {name} {getattr(stored, name)}, but the node reports "
                    f"{getattr(identity, name)} (a restarted devnet or another network?). Reset it with "
                    "`swarm-staking db reset --yes` (or point SWARM_DATABASE_URL at another database)."
                )

    def checkpoint(self) -> Checkpoint:
        meta = self.read_meta()
        if "checkpoint_block" in meta:
            return Checkpoint(int(meta["checkpoint_block"]), meta["checkpoint_hash"])
        return Checkpoint(int(meta["deployed_block"]) - 1, None)

    # ---- applying a batch
    def apply_batch(
        self,
        events: Sequence[DecodedEvent],
        block_times: dict[int, int],
        checkpoint: tuple[int, str, int],
        extra_meta: dict[str, str] | None = None,
    ) -> None:
        """Store `events` (chain order), fold them into the projection and move the checkpoint to
        `checkpoint` = (number, hash, timestamp) — all in one transaction."""
        with self.engine.begin() as conn:
            self._fenced(conn)
            blocks = {e.block_number: (e.block_hash, block_times[e.block_number]) for e in events}
            number, block_hash, ts = checkpoint
            blocks[number] = (block_hash, ts)
            stmt = self._insert(t.blocks).values(
                [{"number": n, "hash": h, "timestamp": bt} for n, (h, bt) in sorted(blocks.items())]
            )
            update = {"hash": stmt.excluded.hash, "timestamp": stmt.excluded.timestamp}
            conn.execute(stmt.on_conflict_do_update(index_elements=["number"], set_=update))
            if events:
                proj = self._load_working_set(conn, events)
                for ev in events:
                    proj.apply(ev, block_times[ev.block_number])
                self._insert_events(conn, events, block_times, proj)
                self._write(conn, proj)
                self._announce(conn, events, proj)
                self._stream(conn, events, block_times, proj)
            meta = {
                "checkpoint_block": str(number),
                "checkpoint_hash": block_hash,
                "checkpoint_time": str(ts),
            }
            self.write_meta(conn, meta | (extra_meta or {}))

    def _insert_events(
        self,
        conn: Connection,
        events: Sequence[DecodedEvent],
        block_times: dict[int, int],
        proj: Projection,
    ) -> None:
        rows = []
        for ev in events:
            provider, slash_id, epoch = event_keys(ev)
            if provider is None and ev.name in APPEAL_EVENTS:
                provider = proj.appeals[ev.args["id"]].provider  # folded: the appeal is there
            rows.append(
                {
                    "block_number": ev.block_number,
                    "block_hash": ev.block_hash,
                    "log_index": ev.log_index,
                    "tx_hash": ev.tx_hash,
                    "block_time": block_times[ev.block_number],
                    "name": ev.name,
                    "provider": provider,
                    "slash_id": slash_id,
                    "epoch": epoch,
                    "args": _JSON.encode(ev.args),
                }
            )
        conn.execute(t.events.insert(), rows)

    def _announce(self, conn: Connection, events: Sequence[DecodedEvent], proj: Projection) -> None:
        if self.outbox is None:
            return
        for ev in events:
            if ev.name == "SlashAppealed":
                self.outbox(conn, APPEAL_WEBHOOK, appeal_notice(proj.appeals[ev.args["id"]]))

    def _stream(
        self, conn: Connection, events: Sequence[DecodedEvent], block_times: dict[int, int], proj: Projection
    ) -> None:
        """`GET /v1/stream`'s rows of the batch, in its transaction (numbers in `args` as decimal
        strings: amounts exceed what a JavaScript number holds)."""
        now_ms = int(time.time() * 1000)
        for ev in events:
            kind = KIND_OF_EVENT.get(ev.name)
            if kind is None:
                continue
            provider = ev.args.get("provider")
            if provider is None and ev.name in APPEAL_EVENTS:
                provider = proj.appeals[ev.args["id"]].provider
            data = {
                "event": ev.name,
                "tx_hash": ev.tx_hash,
                "block_time": block_times[ev.block_number],
                "args": {k: _stream_value(v) for k, v in ev.args.items()},
            }
            append(conn, kind, data, now_ms, provider=provider, block_number=ev.block_number)

    def _load_working_set(self, conn: Connection, events: Iterable[DecodedEvent]) -> Projection:
        proj = Projection()
        addrs = sorted({e.args["provider"] for e in events if e.name in PROVIDER_EVENTS})
        for part in _chunks(addrs):
            for r in conn.execute(select(t.providers).where(t.providers.c.address.in_(part))).mappings():
                proj.providers[r["address"]] = row_from(ProviderRow, r)
        resolved = ("SlashVetoed", "SlashExecuted", "AppealResolved")
        ids = sorted({e.args["id"] for e in events if e.name in resolved})
        for part in _chunks(ids):
            for r in conn.execute(select(t.slashes).where(t.slashes.c.id.in_(part))).mappings():
                proj.slashes[r["id"]] = row_from(SlashRow, r)
        ids = sorted({e.args["id"] for e in events if e.name in ("AppealResolved", "AppealExpired")})
        for part in _chunks(ids):
            for r in conn.execute(select(t.appeals).where(t.appeals.c.id.in_(part))).mappings():
                proj.appeals[r["id"]] = row_from(AppealRow, r)
        nums = sorted({e.args["epoch"] for e in events if e.name in EPOCH_EVENTS})
        for part in _chunks(nums):
            for r in conn.execute(select(t.epochs).where(t.epochs.c.epoch.in_(part))).mappings():
                proj.epochs[r["epoch"]] = row_from(EpochRow, r)
        return proj

    def _upsert(self, conn: Connection, table: Table, key: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        stmt = self._insert(table)
        update = {c.name: stmt.excluded[c.name] for c in table.columns if c.name != key}
        conn.execute(stmt.on_conflict_do_update(index_elements=[key], set_=update), rows)

    def _write(self, conn: Connection, proj: Projection) -> None:
        self._upsert(
            conn, t.providers, "address", [row_dict(proj.providers[a]) for a in proj.dirty_providers]
        )
        self._upsert(conn, t.slashes, "id", [row_dict(proj.slashes[i]) for i in proj.dirty_slashes])
        self._upsert(conn, t.appeals, "id", [row_dict(proj.appeals[i]) for i in proj.dirty_appeals])
        self._upsert(conn, t.epochs, "epoch", [row_dict(proj.epochs[n]) for n in proj.dirty_epochs])
        for (role, account), block in proj.roles.items():
            cond = (t.roles.c.role == role) & (t.roles.c.account == account)
            conn.execute(delete(t.roles).where(cond))
            if block is not None:
                conn.execute(t.roles.insert().values(role=role, account=account, granted_block=block))
        if proj.params:
            stmt = self._insert(t.params).values(
                [{"name": k, "value": v, "updated_block": b} for k, (v, b) in proj.params.items()]
            )
            update = {"value": stmt.excluded.value, "updated_block": stmt.excluded.updated_block}
            conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_=update))

    # ---- reorgs
    def stored_blocks_desc(self, below_or_at: int, limit: int = 64) -> list[tuple[int, str]]:
        with self.engine.connect() as conn:
            q = (
                select(t.blocks.c.number, t.blocks.c.hash)
                .where(t.blocks.c.number <= below_or_at)
                .order_by(t.blocks.c.number.desc())
                .limit(limit)
            )
            return [(r.number, r.hash) for r in conn.execute(q)]

    def rollback_to(self, ancestor: int, ancestor_hash: str | None, ancestor_time: int | None) -> int:
        """Forget everything above block `ancestor` and rebuild the rows those blocks touched from
        the events that remain. Returns the number of orphaned events removed."""
        with self.engine.begin() as conn:
            self._fenced(conn)
            orphaned = conn.execute(
                select(t.events.c.name, t.events.c.provider, t.events.c.epoch).where(
                    t.events.c.block_number > ancestor
                )
            ).all()
            providers = sorted({r.provider for r in orphaned if r.name in PROVIDER_REPLAY})
            epochs = sorted({r.epoch for r in orphaned if r.name in EPOCH_EVENTS})
            globals_hit = any(r.name in GLOBAL_EVENTS for r in orphaned)

            conn.execute(delete(t.events).where(t.events.c.block_number > ancestor))
            conn.execute(delete(t.blocks).where(t.blocks.c.number > ancestor))
            # Subscribers drop what they saw above `ancestor`; the new branch's events follow.
            append(conn, "reorg", {"ancestor": ancestor, "orphaned": len(orphaned)}, int(time.time() * 1000))
            for part in _chunks(providers):
                conn.execute(delete(t.providers).where(t.providers.c.address.in_(part)))
                conn.execute(delete(t.slashes).where(t.slashes.c.provider.in_(part)))
                conn.execute(delete(t.appeals).where(t.appeals.c.provider.in_(part)))
            for part in _chunks(epochs):
                conn.execute(delete(t.epochs).where(t.epochs.c.epoch.in_(part)))
            if globals_hit:
                conn.execute(delete(t.roles))
                conn.execute(delete(t.params))

            proj = Projection()
            conds: list[ColumnElement[bool]] = []
            if providers:
                conds.append(t.events.c.provider.in_(providers) & t.events.c.name.in_(PROVIDER_REPLAY))
            if epochs:
                conds.append(t.events.c.epoch.in_(epochs))
            if globals_hit:
                conds.append(t.events.c.name.in_(GLOBAL_EVENTS))
            for cond in conds:
                # Each group is replayed on its own, in chain order, into the same working set.
                q = select(t.events).where(cond).order_by(t.events.c.block_number, t.events.c.log_index)
                for r in conn.execute(q).mappings():
                    proj.apply(stored_event(r), r["block_time"])
            self._write(conn, proj)
            meta: dict[str, str] = {"checkpoint_block": str(ancestor)}
            if ancestor_hash is not None:
                meta |= {"checkpoint_hash": ancestor_hash, "checkpoint_time": str(ancestor_time)}
                self.write_meta(conn, meta)
            else:
                self.write_meta(conn, meta)
                conn.execute(delete(t.meta).where(t.meta.c.key.in_(["checkpoint_hash", "checkpoint_time"])))
            return len(orphaned)

    # ---- reading
    def count_events(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(t.events)).scalar_one())


def _stream_value(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list | tuple):
        return [_stream_value(v) for v in value]
    return value


def stored_event(r: Any) -> DecodedEvent:
    """A row of `events` back as a DecodedEvent."""
    args = json.loads(r["args"])
    return DecodedEvent(
        name=r["name"],
        block_number=r["block_number"],
        block_hash=r["block_hash"],
        log_index=r["log_index"],
        tx_hash=r["tx_hash"],
        block_time=r["block_time"],
        args=args,
    )
