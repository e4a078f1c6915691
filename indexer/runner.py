"""The indexer loop: follow the chain from the checkpoint, page logs adaptively, detect reorgs,
apply each batch in one transaction, survive node outages, report progress."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError
from web3 import Web3

from indexer.decoder import EventDecoder
from indexer.source import ChainSource, Header, RangeTooLarge
from indexer.store import ChainIdentity, ChainMismatch, Checkpoint, Outbox, Store
from staking.chain.contracts import StakingContract
from staking.deployment import Deployment
from staking.domain.errors import NodeUnreachable
from staking.domain.events import DecodedEvent

log = logging.getLogger("indexer")


@dataclass(frozen=True)
class IndexerConfig:
    confirmations: int = 0  # index up to head - confirmations (0 on the devnet)
    initial_span: int = 2_000  # blocks per eth_getLogs page to start with
    max_span: int = 50_000
    poll_interval: float = 1.0  # seconds between head checks once caught up
    max_backoff: float = 30.0  # longest wait between retries while the node is down


@dataclass
class IndexerStatus:
    rpc_ok: bool = False
    head: int | None = None
    finalized: int | None = None
    indexed: int | None = None
    caught_up: bool = False
    last_error: str | None = None
    reorgs: int = 0
    events: int = 0

    @property
    def lag(self) -> int | None:
        return None if self.head is None or self.indexed is None else max(0, self.head - self.indexed)


@dataclass
class Progress:
    """Backfill progress: a live line on a terminal, a structured log line every few seconds otherwise."""

    stream: TextIO = field(default_factory=lambda: sys.stderr)
    every: float = 5.0
    start_block: int | None = None
    started: float = field(default_factory=time.monotonic)
    events: int = 0
    _last: float = 0.0

    def update(self, indexed: int, target: int, new_events: int) -> None:
        if self.start_block is None:
            self.start_block = indexed
        self.events += new_events
        now = time.monotonic()
        done, total = indexed - self.start_block, max(1, target - self.start_block)
        elapsed = max(1e-9, now - self.started)
        rate_b = done / elapsed
        eta = (target - indexed) / rate_b if rate_b > 0 else 0.0
        fields = {
            "block": indexed,
            "target": target,
            "events": self.events,
            "events_per_s": round(self.events / elapsed),
            "eta_s": round(eta, 1),
        }
        if self.stream.isatty():
            pct = 100 * done / total
            line = (
                f"\rindexing block {indexed:,}/{target:,} ({pct:5.1f}%) · {self.events:,} events · "
                f"{fields['events_per_s']:,} events/s · ETA {eta:,.0f}s   "
            )
            self.stream.write(line)
            self.stream.flush()
        elif now - self._last >= self.every or indexed >= target:
            log.info("backfill progress", extra=fields)
        self._last = now if now - self._last >= self.every else self._last

    def finish(self) -> None:
        if self.stream.isatty():
            self.stream.write("\n")


class Indexer:
    def __init__(
        self,
        engine: Engine,
        w3: Web3,
        deployment: Deployment,
        config: IndexerConfig | None = None,
        progress: Progress | None = None,
        fence: Callable[[Connection], None] | None = None,
        staking: StakingContract | None = None,
        outbox: Outbox | None = None,
    ) -> None:
        """`staking`: the deployment's SwarmStaking wrapper on `w3`, whose ABI the events are
        decoded with (the service passes its Runtime's, loaded from `settings.artifacts_dir`);
        default: one with the ABI of the repository's own build. `outbox`: where the `appeal`
        webhook is written, in each batch's transaction (None: no webhooks)."""
        self.config = config or IndexerConfig()
        self.store = Store(engine, fence, outbox)
        self.deployment = deployment
        self.staking = staking or StakingContract(w3, deployment.contracts.SwarmStaking)
        if self.staking.address != deployment.contracts.SwarmStaking:
            raise ValueError(f"{self.staking.address} is not the deployment's SwarmStaking")
        self.source = ChainSource(w3, self.staking.address)
        self.decoder = EventDecoder(self.staking.abi)
        self.status = IndexerStatus()
        self.progress = progress
        self.span = self.config.initial_span
        self._identity_checked = False

    # ---- identity
    def identity(self) -> ChainIdentity:
        genesis = self.source.header(0)
        assert genesis is not None
        if self.source.code_size() == 0:
            raise ChainMismatch(
                f"no contract at {self.staking.address} on chain {self.source.chain_id()}: the deployment "
                "file does not match this node (a restarted devnet? run `swarm-staking devnet` again)"
            )
        fns = self.staking.contract.functions
        return ChainIdentity(
            chain_id=self.source.chain_id(),
            genesis_hash=genesis.hash,
            staking_address=self.staking.address,
            deployed_block=self.deployment.deployed_block,
            epoch_genesis=int(fns.epochGenesis().call()),
            epoch_length=int(fns.epochLength().call()),
        )

    # ---- one step
    def step(self) -> int:
        """Advance by at most one batch. Returns the number of blocks indexed (0 when at head)."""
        if not self._identity_checked:
            self.store.ensure_identity(self.identity())
            self._identity_checked = True
        cp = self.store.checkpoint()
        self.status.indexed = cp.block
        if cp.hash is not None:
            current = self.source.header(cp.block)
            if current is None or current.hash != cp.hash:
                self._handle_reorg(cp)
                return 0
        head = self.source.head()
        self.status.head, self.status.rpc_ok = head, True
        target = head - self.config.confirmations
        self.status.caught_up = cp.block >= target
        if self.status.caught_up:
            return 0
        to = min(target, cp.block + self.span)
        before = self.source.header(to)
        try:
            raw = self.source.logs(cp.block + 1, to)
        except RangeTooLarge as exc:
            self.span = max(1, (to - cp.block) // 2)
            log.info("log range too large, shrinking", extra={"span": self.span, "reason": str(exc)[:120]})
            return 0
        after = self.source.header(to)
        if before is None or after is None or before.hash != after.hash:
            log.info("chain moved under a batch; retrying", extra={"block": to})
            return 0
        if cp.hash is not None:
            # The batch must extend what is stored: a reorg that landed after the checkpoint check
            # is caught here, and the next step rolls back.
            anchor = self.source.header(cp.block)
            if anchor is None or anchor.hash != cp.hash:
                return 0
        events = [ev for ev in map(self.decoder.decode, raw) if ev is not None]
        if any(ev.block_number == to and ev.block_hash != after.hash for ev in events):
            return 0  # logs from another fork than the header: retry
        times = self._block_times(events)
        finalized = self.source.finalized()
        self.status.finalized = finalized
        meta = {"head_block": str(head)} | (
            {"finalized_block": str(finalized)} if finalized is not None else {}
        )
        self.store.apply_batch(events, times, (after.number, after.hash, after.timestamp), extra_meta=meta)
        self.status.indexed, self.status.events = to, self.status.events + len(events)
        if to - cp.block >= self.span:
            self.span = min(self.config.max_span, self.span * 2)
        if self.progress is not None:
            self.progress.update(to, target, len(events))
        return to - cp.block

    def _block_times(self, events: list[DecodedEvent]) -> dict[int, int]:
        times: dict[int, int] = {}
        for ev in events:
            if ev.block_number in times:
                continue
            if ev.block_time is not None:
                times[ev.block_number] = ev.block_time
            else:  # nodes that omit blockTimestamp from logs
                h = self.source.header(ev.block_number)
                if h is None:
                    raise NodeUnreachable(f"block {ev.block_number} vanished while indexing")
                times[ev.block_number] = h.timestamp
        return times

    def _handle_reorg(self, cp: Checkpoint) -> None:
        ancestor: Header | None = None
        below = cp.block
        while ancestor is None:
            stored = self.store.stored_blocks_desc(below)
            if not stored:
                break
            for number, block_hash in stored:
                h = self.source.header(number)
                if h is not None and h.hash == block_hash:
                    ancestor = h
                    break
            below = stored[-1][0] - 1
        if ancestor is None:  # deeper than anything stored: replay from the deployment
            removed = self.store.rollback_to(self.deployment.deployed_block - 1, None, None)
            depth = cp.block - self.deployment.deployed_block + 1
        else:
            removed = self.store.rollback_to(ancestor.number, ancestor.hash, ancestor.timestamp)
            depth = cp.block - ancestor.number
        self.status.reorgs += 1
        self.status.caught_up = False
        self.status.indexed = cp.block - depth
        log.warning(
            "reorg: rolled back to the common ancestor",
            extra={
                "from_block": cp.block,
                "ancestor": cp.block - depth,
                "depth": depth,
                "orphaned_events": removed,
            },
        )

    # ---- the loop
    def run(self, stop: threading.Event | None = None, exit_at_head: bool = False) -> None:
        stop = stop or threading.Event()
        backoff = 0.5
        while not stop.is_set():
            try:
                advanced = self.step()
                if self.status.last_error:
                    log.info("reachable again", extra={"after": self.status.last_error})
                self.status.last_error = None
                backoff = 0.5
                if advanced == 0 and self.status.caught_up:
                    if exit_at_head:
                        break
                    stop.wait(self.config.poll_interval)
            except NodeUnreachable as exc:
                self.status.rpc_ok = False
                self.status.last_error = str(exc)
                log.warning("node unreachable; retrying", extra={"error": str(exc), "retry_in_s": backoff})
                stop.wait(backoff)
                backoff = min(self.config.max_backoff, backoff * 2)
            except OperationalError as exc:
                # The database restarted or is unreachable: a batch is one transaction, so nothing
                # half-written remains; the pool reconnects on the next attempt.
                self.status.last_error = f"database: {type(exc.orig).__name__}"
                log.warning(
                    "database unreachable; retrying",
                    extra={"error": self.status.last_error, "retry_in_s": backoff},
                )
                stop.wait(backoff)
                backoff = min(self.config.max_backoff, backoff * 2)
        if self.progress is not None:
            self.progress.finish()
