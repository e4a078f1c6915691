"""Reward epochs: every registered provider's standing over one epoch, its eligibility and weight,
and the Merkle tree the rewards oracle publishes.

An epoch `n` is the half-open window `[genesis + n * length, genesis + (n + 1) * length)` of block
timestamps, as the contract's `currentEpoch()` counts it: a block stamped exactly at the end
already belongs to the next epoch.

Everything is folded from the indexed `events` table with `block_time < end` (never from the
projection rows, which hold the state at the indexed head), through the indexer's own `Projection`:
two databases indexed from the same chain to any heights past the epoch's end compute the same
standings, the same weights and the same root. What the fold yields per provider (`EpochStanding`):

- time-weighted active stake: `sum(active * seconds it held) // length` over the epoch, where
  `Staked` and `UnbondRequested` carry the resulting `active` and `SlashExecuted` takes
  `fromActive` off it; the stake at the start is what the events before the start left;
- the class minimum, as the contract's `minStakeOf` (`baseMinStake + perGpuMinStake * gpus`) with
  the class parameters in force at the end of the epoch (`ClassParamsSet` events);
- jailed at any moment of the epoch (a jail that started earlier counts); tombstoned, a recovery
  path open, a slash pending — each at the end of the epoch;
- probation: reinstated at time `r` with `probationEpochs = p`, for epochs `epoch(r) .. epoch(r) + p - 1`.

Then `evaluate` (staking/rewards/eligibility.py) with the epoch's performance report gives the
weight, and `WeightTree` the root over the eligible providers. `inputs_hash` is the sha256 of the
canonical JSON of all of that input (rules included), so a recomputation can show it saw the same.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, select, update

from indexer.projection import PROVIDER_EVENTS, Projection, ProjectionError
from indexer.store import stored_event
from staking.db import schema as t
from staking.domain.clock import EpochClock
from staking.domain.errors import SwarmError
from staking.domain.events import DecodedEvent
from staking.domain.stake import min_stake
from staking.rewards.clock import epoch_clock as epoch_clock  # re-exported: callers read it here
from staking.rewards.clock import indexed_time, window
from staking.rewards.eligibility import (
    Eligibility,
    EpochStanding,
    PerformanceReport,
    RewardRules,
    evaluate,
)
from staking.rewards.merkle import WeightTree

COMPUTED, EMPTY, PUBLISHING, PUBLISHED, MISMATCH = "computed", "empty", "publishing", "published", "mismatch"
# States a recomputation may overwrite; from "publishing" on, the row is what went on chain.
MUTABLE_STATES = (COMPUTED, EMPTY)

# The events the fold reads: every provider event (with the slashes they carry) and the class
# parameters; the reward, role and other parameter events change no standing.
FOLDED_EVENTS = tuple(sorted(PROVIDER_EVENTS | {"ClassParamsSet"}))


class EpochImmutable(SwarmError, RuntimeError):
    """The epoch's weights went on chain (or are on their way): they are never rewritten."""


class ProjectionIncomplete(SwarmError, RuntimeError):
    """The database cannot answer for the epoch (not indexed far enough, or at all)."""


def epoch_uri(epoch: int) -> str:
    """The `uri` published with an epoch's root: where its leaves and proofs are served."""
    return f"swarm-staking:epoch/{epoch}"


# ------------------------------------------------------------------------------------------ the fold


@dataclass
class EpochFold:
    """Folds events (chain order, each with its block time) into every provider's standing over
    `epoch`. The provider state itself is the indexer's `Projection`, fed the same events, so the
    rewards and the projection share one definition of it; the fold adds what only an epoch has:
    how long each stake held, and whether a jail was in force at any moment of the epoch. Pure:
    `compute_epoch` feeds it rows of `events`, tests feed it by hand."""

    clock: EpochClock
    epoch: int
    state: Projection = field(default_factory=Projection)
    _since: dict[str, int] = field(default_factory=dict)  # when the current stake began to count
    _stake_seconds: dict[str, int] = field(default_factory=dict)
    _jailed: set[str] = field(default_factory=set)  # jailed at some moment of the epoch

    def apply(self, ev: DecodedEvent, block_time: int) -> None:
        start, end = window(self.clock, self.epoch)
        if block_time >= end:
            raise ValueError(f"{ev.name} at {block_time} is after epoch {self.epoch} (ends {end})")
        address = ev.args["provider"] if ev.name in PROVIDER_EVENTS else None
        p = self.state.providers.get(address) if address else None
        if p is not None and address is not None and block_time >= start:
            # What held since the previous change counts for that long; a jail in force until
            # now (from before the start or from earlier in the epoch) is a jail in the epoch.
            self._stake_seconds[address] += p.active * (block_time - self._since[address])
            self._since[address] = block_time
            if p.jailed:
                self._jailed.add(address)
        try:
            self.state.apply(ev, block_time)
        except ProjectionError as exc:
            raise ProjectionIncomplete(str(exc)) from exc
        if address is None:
            return
        if ev.name == "ProviderRegistered":
            self._since[address], self._stake_seconds[address] = max(start, block_time), 0
        if block_time >= start and self.state.providers[address].jailed:
            self._jailed.add(address)

    def standings(self) -> dict[str, EpochStanding]:
        """Every provider registered before the end of the epoch, by address."""
        end, length = window(self.clock, self.epoch)[1], self.clock.length
        out: dict[str, EpochStanding] = {}
        for address, p in self.state.providers.items():
            params = self.state.params.get(f"class.{p.provider_class}")
            minimum = min_stake(params[0] if params else None, p.gpus)
            if minimum is None:
                raise ProjectionIncomplete(f"no ClassParamsSet event for class {p.provider_class} indexed")
            probation = (
                p.reinstated_at is not None
                and self.epoch < self.clock.epoch_at(p.reinstated_at) + p.probation_epochs
            )
            seconds = self._stake_seconds[address] + p.active * (end - self._since[address])
            out[address] = EpochStanding(
                time_weighted_stake=seconds // length,
                min_stake=minimum,
                jailed=address in self._jailed or p.jailed,
                tombstoned=p.tombstoned,
                in_recovery=p.recovery_path != 0,
                pending_slash=p.pending_slashes > 0,
                probation=probation,
            )
        return out


# ------------------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class ProviderEpoch:
    address: str
    standing: EpochStanding
    report: PerformanceReport | None
    result: Eligibility


@dataclass(frozen=True)
class EpochResult:
    epoch: int
    start: int
    end: int
    providers: tuple[ProviderEpoch, ...]  # by address
    tree: WeightTree
    inputs_hash: str

    @property
    def root(self) -> str:
        return "0x" + self.tree.root.hex()

    @property
    def total_weight(self) -> int:
        return self.tree.total_weight

    @property
    def weights(self) -> dict[str, int]:
        """Eligible providers' weights (the tree's leaves)."""
        return dict(self.tree.weights)

    @property
    def reasons(self) -> dict[str, tuple[str, ...]]:
        return {p.address: p.result.reasons for p in self.providers}

    @property
    def eligible(self) -> int:
        return len(self.tree.weights)

    @property
    def state(self) -> str:
        return COMPUTED if self.eligible else EMPTY

    @property
    def uri(self) -> str:
        return epoch_uri(self.epoch)


def evaluate_epoch(
    epoch: int,
    start: int,
    end: int,
    standings: Mapping[str, EpochStanding],
    reports: Mapping[str, PerformanceReport],
    rules: RewardRules,
) -> EpochResult:
    """Eligibility, weights, tree and inputs hash from the folded standings (pure)."""
    providers = tuple(
        ProviderEpoch(a, standings[a], reports.get(a), evaluate(standings[a], reports.get(a), rules))
        for a in sorted(standings)
    )
    tree = WeightTree.build({p.address: p.result.weight for p in providers if p.result.eligible})
    return EpochResult(epoch, start, end, providers, tree, inputs_hash(epoch, start, end, providers, rules))


def inputs_hash(
    epoch: int, start: int, end: int, providers: Iterable[ProviderEpoch], rules: RewardRules
) -> str:
    """sha256 of the canonical JSON of everything the weights follow from."""
    rows = []
    for p in providers:
        s, r = p.standing, p.report
        report = None if r is None else [r.uptime_bps, r.response_ms_p50, r.error_rate_bps, r.rating_bps]
        flags = [s.jailed, s.tombstoned, s.in_recovery, s.pending_slash, s.probation]
        rows.append([p.address, str(s.time_weighted_stake), str(s.min_stake), *flags, report])
    doc = {"epoch": epoch, "start": start, "end": end, "rules": rules.model_dump(), "providers": rows}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# ------------------------------------------------------------------------------------------ SQL


def compute_epoch(conn: Connection, epoch: int, clock: EpochClock, rules: RewardRules) -> EpochResult:
    """The epoch's standings, weights and root from the SQL projection (reads only).

    Raises ProjectionIncomplete unless the database is indexed past the end of the epoch."""
    start, end = window(clock, epoch)
    indexed = indexed_time(conn)
    if indexed is None or indexed < end:
        raise ProjectionIncomplete(
            f"epoch {epoch} ends at {end}; the database is indexed to time {indexed}: index further first"
        )
    fold = EpochFold(clock, epoch)
    ev = t.events
    rows = conn.execute(
        select(ev)
        .where(ev.c.block_time < end, ev.c.name.in_(FOLDED_EVENTS))
        .order_by(ev.c.block_number, ev.c.log_index)
    ).mappings()
    for row in rows:
        fold.apply(stored_event(row), row["block_time"])
    return evaluate_epoch(epoch, start, end, fold.standings(), load_reports(conn, epoch), rules)


def load_reports(conn: Connection, epoch: int) -> dict[str, PerformanceReport]:
    r = t.performance_reports.c
    rows = conn.execute(
        select(r.provider, r.uptime_bps, r.response_ms_p50, r.error_rate_bps, r.rating_bps).where(
            r.epoch == epoch
        )
    )
    return {p: PerformanceReport(u, int(ms), e, rt) for p, u, ms, e, rt in rows}


def store_epoch(conn: Connection, result: EpochResult, *, now_ms: int) -> None:
    """Writes the epoch's row (state "computed", or "empty" when nobody is eligible) and every
    provider's weight, replacing an earlier unpublished computation, in one transaction (the
    caller's, if it has one). Raises EpochImmutable once the epoch is publishing or published.
    `now_ms`: the caller's clock (`computed_ms`)."""
    if not conn.in_transaction():
        with conn.begin():
            store_epoch(conn, result, now_ms=now_ms)
        return
    re = t.reward_epochs
    query = select(re.c.state).where(re.c.epoch == result.epoch)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    state = conn.execute(query).scalar()
    if state is not None and state not in MUTABLE_STATES:
        raise EpochImmutable(f"epoch {result.epoch} is {state}: its weights are never rewritten")
    if state is not None:
        conn.execute(delete(t.reward_weights).where(t.reward_weights.c.epoch == result.epoch))
        conn.execute(delete(re).where(re.c.epoch == result.epoch))
    conn.execute(
        re.insert().values(
            epoch=result.epoch,
            state=result.state,
            merkle_root=result.root,
            total_weight=result.total_weight,
            eligible=result.eligible,
            providers=len(result.providers),
            uri=result.uri,
            inputs_hash=result.inputs_hash,
            computed_ms=now_ms,
        )
    )
    if result.providers:
        conn.execute(
            t.reward_weights.insert(),
            [
                {
                    "epoch": result.epoch,
                    "provider": p.address,
                    "eligible": p.result.eligible,
                    "weight": p.result.weight,
                    "score_bps": p.result.score_bps,
                    "time_weighted_stake": p.standing.time_weighted_stake,
                    "reasons": json.dumps(list(p.result.reasons)),
                }
                for p in result.providers
            ],
        )


def set_state(conn: Connection, epoch: int, state: str, *, now_ms: int, **values: Any) -> None:
    """Moves an epoch to `state` (with `published_ms` = `now_ms`, the caller's clock, when it
    becomes published)."""
    if state == PUBLISHED:
        values.setdefault("published_ms", now_ms)
    re = t.reward_epochs
    conn.execute(update(re).where(re.c.epoch == epoch).values(state=state, **values))


# ------------------------------------------------------------------------------------------ reading


def epoch_row(conn: Connection, epoch: int) -> dict[str, Any] | None:
    row = conn.execute(select(t.reward_epochs).where(t.reward_epochs.c.epoch == epoch)).mappings().first()
    return dict(row) if row else None
