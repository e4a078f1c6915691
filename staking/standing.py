"""Where a provider stands: the read model behind `GET /v1/providers/...` and `GET /v1/slashes`
(SPEC section 4). SQL only: everything comes from the indexer's projection (`providers`,
`slashes`, `events`, `params`, `meta`) and the service's own `verdicts`; nothing asks the chain.

- `provider_standing` — the one document a provider reads to know where it stands. A handful of
  primary-key / indexed queries (provider row, meta, class parameters, its slashes, its verdicts in
  the policy window), never a scan of a whole table.
- `list_providers`, `list_slashes`, `provider_events` — keyset pages with opaque cursors.
- `snapshot(engine)` — a connection on which all of those reads see one committed state, so a
  document never mixes two indexer batches.

Times are unix seconds. Amounts are decimal strings of base units (uint256 does not fit a JSON
number). Every function takes `now`: the document is evaluated at `max(now, the timestamp of the
last indexed block)` — the chain's clock never runs backwards, and a devnet whose time was moved
forward is judged by its own clock.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    bindparam,
    false,
    literal_column,
    or_,
    select,
    text,
    true,
    union_all,
)

from indexer.projection import ProviderRow, row_from
from staking.db import schema as t
from staking.domain.clock import EpochClock
from staking.domain.clock import iso_seconds as _iso
from staking.domain.cursor import NUMBER, SLASH_ID, decode_cursor, encode_cursor
from staking.domain.ids import ADDRESS, normalize_address
from staking.domain.reasons import INELIGIBLE_STATUSES, Ineligible
from staking.domain.status import STATUSES, provider_status
from staking.domain.strikes import NOT_A_STRIKE_LEVEL, NOT_A_STRIKE_STATUS, strikes_in_window
from staking.domain.vocabulary import (
    EventType,
    ProviderClass,
    ProviderStatus,
    RecoveryPath,
    RecoveryStage,
    Severity,
    SlashState,
)
from staking.policy import Policy
from staking.rewards.summary import summarize

MAX_PAGE = 200
# No stake to measure against the class minimum.
_UNBONDED = (ProviderStatus.UNREGISTERED, ProviderStatus.EXITED, ProviderStatus.UNBONDING)
SLASH_STATES = ("pending", "executed", "vetoed")
META_KEYS = (
    "checkpoint_block",
    "checkpoint_hash",
    "checkpoint_time",
    "head_block",
    "epoch_genesis",
    "epoch_length",
)
# Event arguments that are uint256 token amounts or weights: decimal strings on the wire.
AMOUNT_ARGS = frozenset(
    {
        "amount",
        "active",
        "unbonding",
        "fromActive",
        "fromUnbonding",
        "weight",
        "totalWeight",
        "pool",
        "baseMinStake",
        "perGpuMinStake",
    }
)
_META_KEYS = list(META_KEYS)
_PARAM_NAMES = [*(f"class.{int(c)}" for c in ProviderClass), "paused"]


@contextlib.contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A read-only connection on one committed state (PostgreSQL REPEATABLE READ; SQLite a
    deferred read transaction on WAL), so a document never mixes two indexer batches."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            yield conn
            conn.rollback()
        return
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            # pysqlite opens transactions only before writes; readers must ask for theirs.
            conn.exec_driver_sql("BEGIN")
        yield conn
        conn.rollback()


# ------------------------------------------------------------------------------------ one provider


def read_provider_standing(
    engine: Engine, address: str, now: int, policy: Policy, head: int | None = None
) -> dict[str, Any]:
    """`provider_standing` on its own connection. On PostgreSQL the document is read by a single
    statement, which sees one snapshot by itself: no transaction is opened (no BEGIN, isolation
    SET or ROLLBACK round trips). Elsewhere on a `snapshot`."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            return provider_standing(conn, address, now, policy, head)
    with snapshot(engine) as conn:
        return provider_standing(conn, address, now, policy, head)


def provider_standing(
    conn: Connection, address: str, now: int, policy: Policy, head: int | None = None
) -> dict[str, Any]:
    """Where `address` stands: the `GET /v1/providers/{address}` document of SPEC section 4.

    `address`: any case (see `normalize_address`; InvalidAddress if malformed). `now`: unix
    seconds (the document is evaluated at `max(now, last indexed block's timestamp)`). `policy`:
    its rolling window counts the strikes. `head`: the chain head if the caller knows it without
    asking the node; `as_of.lag_blocks` uses the higher of it and the head the indexer stored with
    its last batch (null when neither is known).

    The document (amounts are decimal strings of base units, times unix seconds):

    - `address` (checksummed), `class` (wire name, null when unregistered), `gpus`, `metadata_uri`,
      `status` and `status_reason` (`indexer.projection.provider_status`).
    - `stake`: `active`, `unbonding`, `withdrawable`, `min_required`, `meets_minimum`, `unbonding_end`
      — mirroring `stakeOf`, `unbondingOf`, `withdrawableOf` and `minStakeOf` (for an unknown address
      `minStakeOf` answers the hardware class's base minimum, and so does this).
    - `jail`: `{until (null: until recovery), reason, verdict_id, event_type, since}` or null.
    - `recovery`: `{path, stage, next_step}` or null. With a recovery open on chain, `path` and `stage`
      are the contract's and `next_step` says what happens next and who acts. For a timed jail,
      `stage` is null and `path` is the policy's recommended path for the jailing verdict (guidance:
      nothing is open on chain); `next_step` tells the provider when and how to `unjail()`. Null
      otherwise — also during probation, when the contract has closed the recovery (see `probation`).
    - `probation`: `{reinstated_at, until_epoch}` while reward weight is reduced after a
      reinstatement (`until_epoch`: the first epoch at full weight), else null.
    - `pending_slashes` and `slashes` (executed and vetoed, newest first): see `slash_item`.
    - `strikes`: `{in_window, level, window_days, last_detected_at}` — the provider's decided
      offences (the service's `verdicts`: not rejected, level other than "none") detected within
      the policy's rolling window before `now`. `level` is the level of the most recent of them
      ("none" without any). It is deliberately not the level of the *next* offence: that depends on
      the next verdict's event type and severity (each event type has its own ladder); the next
      offence is number `in_window + 1` of its ladder.
    - `rewards`: `{epoch, eligible, reasons, weight}`. `epoch` is the current reward epoch (the
      contract's epoch clock as the indexer recorded it). `eligible` is false when any of `reasons`
      is an exclusion: "unregistered", "exited", "unbonding", "tombstoned", "jailed", "in_recovery",
      "pending_slash", "below_minimum_stake". "probation" keeps it eligible at a reduced weight.
      `weight` is null: the current epoch is still running. `last_computed` is the rewards job's
      answer for the most recent finished epoch, `{epoch, eligible, reasons, weight}` (null before
      any epoch is computed), from `staking.rewards.summary.summarize`.
    - `as_of`: `{block, block_hash, timestamp, lag_blocks}` — the indexer's checkpoint.
    """
    addr = normalize_address(address)
    if conn.dialect.name == "postgresql":
        values = one_statement_values(addr, now, policy)
        parts = parts_from_one_statement(conn.execute(_ONE_STATEMENT, values).one())
    else:
        parts = _fetch(conn, addr, now, policy)
    return standing_from_parts(parts, addr, now, policy, head)


def standing_from_parts(
    parts: _Parts, addr: str, now: int, policy: Policy, head: int | None = None
) -> dict[str, Any]:
    """The document from its parts, however they were read (`addr` checksummed)."""
    meta, params = parts.meta, parts.params
    clock = _epoch_clock(meta)
    at = max(now, _int(meta.get("checkpoint_time")) or 0)
    p: ProviderRow | None = None if parts.provider is None else row_from(ProviderRow, parts.provider)
    status, reason = provider_status(p, at, clock or EpochClock(0, 1))
    stake = _stake(p, params, at)
    slash_items = [slash_item(s) for s in parts.slashes]
    strikes = _strikes(strikes_in_window(parts.strikes, at, policy.window_seconds), policy)
    jail = _jail(p)
    probation = _probation(p, status, clock)
    recovery = _recovery(p, parts.jail_guidance, at, stake, params.get("paused") == "true")
    current_epoch = clock.epoch_at(at) if clock else None
    return {
        "address": addr,
        "class": ProviderClass(p.provider_class).wire if p else None,
        "gpus": p.gpus if p else 0,
        "metadata_uri": p.metadata_uri if p else None,
        "status": status,
        "status_reason": reason,
        "stake": stake,
        "jail": jail,
        "recovery": recovery,
        "probation": probation,
        "pending_slashes": [s for s in slash_items if s["state"] == "pending"],
        "slashes": [s for s in slash_items if s["state"] != "pending"],
        "strikes": strikes,
        "rewards": {
            **_rewards(p, status, stake, at, clock),
            "last_computed": _last_computed(parts.reward_epochs, current_epoch),
        },
        "as_of": as_of(meta, head),
    }


class _Row(dict[str, Any]):
    """A row decoded from JSON, read by attribute like a SQLAlchemy row."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass
class _Parts:
    """What one provider's document is built from, read on one snapshot.

    `strikes`: its decided offences detected within the window before `now` or later (the caller
    narrows them to the window before the evaluation time). `reward_epochs`: the most recent
    computed epochs, newest first, each with the provider's weight row (None when the provider is
    not in that epoch's set)."""

    meta: dict[str, str]
    params: dict[str, str]
    provider: Any | None
    jail_guidance: int | None
    slashes: list[Any]
    strikes: list[Any]
    reward_epochs: list[tuple[int, Any | None]]


def _fetch(conn: Connection, addr: str, now: int, policy: Policy) -> _Parts:
    """The parts by primary-key / indexed lookups, one statement each: on SQLite, in process,
    each costs microseconds."""
    meta, params = _settings(conn)
    at = max(now, _int(meta.get("checkpoint_time")) or 0)
    provider = conn.execute(_PROVIDER, {"address": addr}).mappings().first()
    guidance = None
    if provider is not None and provider["jail_verdict_id"] is not None:
        guidance = conn.execute(
            select(t.verdicts.c.recovery_path).where(t.verdicts.c.id == provider["jail_verdict_id"])
        ).scalar()
    strikes = conn.execute(_STRIKES, {"provider": addr, "since": at - policy.window_seconds, "now": at}).all()
    reward_epochs = [
        (int(e.epoch), e if e.present else None) for e in conn.execute(_REWARD_EPOCHS, {"address": addr})
    ]
    return _Parts(
        meta=meta,
        params=params,
        provider=provider,
        jail_guidance=guidance,
        slashes=list(conn.execute(_PROVIDER_SLASHES, {"provider": addr})),
        strikes=list(strikes),
        reward_epochs=reward_epochs,
    )


def _reward_epoch(epoch: int, weight: Any | None) -> _Row:
    if weight is None:
        return _Row(epoch=epoch, present=False)
    return _Row(
        epoch=epoch, present=True, eligible=weight.eligible, weight=weight.weight, reasons=weight.reasons
    )


# PostgreSQL: the whole document's parts in ONE statement (one round trip; a single statement reads
# one snapshot, so no transaction is opened). Over a network every round trip costs more than the
# SQL it carries: eight of them made this lookup 4x slower than on SQLite.
# It reads the 4 most recent computed epochs: the rewards job may be an epoch ahead of the API.
_ONE_STATEMENT = text(
    """
SELECT
  (SELECT json_agg(json_build_array(s.source, s.name, s.value)) FROM (
      SELECT 'm' AS source, key AS name, value FROM meta
       WHERE key = ANY(:meta_keys)
      UNION ALL
      SELECT 'p', name, value FROM params
       WHERE name = ANY(:param_names)) s
  ) AS settings,
  (SELECT row_to_json(p) FROM providers p WHERE p.address = :address) AS provider,
  (SELECT v.recovery_path FROM providers p JOIN verdicts v ON v.id = p.jail_verdict_id
    WHERE p.address = :address) AS jail_guidance,
  (SELECT json_agg(x) FROM (
      SELECT s.*, v.status AS verdict_status FROM slashes s LEFT JOIN verdicts v ON v.id = s.id
       WHERE s.provider = :address) x
  ) AS slashes,
  (SELECT json_agg(x) FROM (
      SELECT detected_at, level, received_ms FROM verdicts
       WHERE provider = :address AND status <> :not_a_strike_status AND level <> :not_a_strike_level
         AND detected_at > :since) x
  ) AS strikes,
  (SELECT json_agg(x) FROM (
      SELECT e.epoch, w.provider IS NOT NULL AS present, w.eligible, w.weight, w.reasons
        FROM (SELECT epoch FROM reward_epochs ORDER BY epoch DESC LIMIT 4) e
        LEFT JOIN reward_weights w ON w.epoch = e.epoch AND w.provider = :address) x
  ) AS reward_epochs
"""
)


# The same statement for a plain psycopg connection (the API's asynchronous lookups).
ONE_STATEMENT_PSYCOPG = re.sub(r":(\w+)", r"%(\1)s", _ONE_STATEMENT.text)


def one_statement_values(addr: str, now: int, policy: Policy) -> dict[str, Any]:
    """The values `ONE_STATEMENT` binds for `addr` (checksummed) at `now`."""
    since = now - policy.window_seconds  # a superset of the window: see `_Parts.strikes`
    return {
        "address": addr,
        "since": since,
        "meta_keys": _META_KEYS,
        "param_names": _PARAM_NAMES,
        "not_a_strike_status": str(NOT_A_STRIKE_STATUS),
        "not_a_strike_level": str(NOT_A_STRIKE_LEVEL),
    }


def parts_from_one_statement(r: Any) -> _Parts:
    """`_Parts` from the row of `ONE_STATEMENT` (attribute access by column name)."""
    meta: dict[str, str] = {}
    params: dict[str, str] = {}
    for source, name, value in r.settings or ():
        (meta if source == "m" else params)[name] = value
    slashes = sorted(map(_Row, r.slashes or ()), key=lambda s: (s.proposed_block, s.id), reverse=True)
    strikes = sorted(map(_Row, r.strikes or ()), key=lambda s: (s.detected_at, s.received_ms), reverse=True)
    epochs = sorted(map(_Row, r.reward_epochs or ()), key=lambda e: e.epoch, reverse=True)
    reward_epochs = [(int(e.epoch), e if e.present else None) for e in epochs]
    return _Parts(
        meta=meta,
        params=params,
        provider=r.provider,
        jail_guidance=r.jail_guidance,
        slashes=slashes,
        strikes=strikes,
        reward_epochs=reward_epochs,
    )


def _meta(conn: Connection) -> dict[str, str]:
    return _settings(conn)[0]


def _settings(conn: Connection) -> tuple[dict[str, str], dict[str, str]]:
    """(meta, params) the documents need, in one statement."""
    meta: dict[str, str] = {}
    params: dict[str, str] = {}
    for r in conn.execute(_SETTINGS):
        (meta if r.source == "m" else params)[r.name] = r.value
    return meta, params


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.lstrip("-").isdigit() else None


def _epoch_clock(meta: dict[str, str]) -> EpochClock | None:
    """The contract's epoch clock as the indexer recorded it (None before the first indexer run)."""
    genesis, length = _int(meta.get("epoch_genesis")), _int(meta.get("epoch_length"))
    return EpochClock(genesis, length) if genesis is not None and length else None


def as_of(meta: dict[str, str], head: int | None = None) -> dict[str, Any]:
    """The indexer checkpoint a document reflects; `lag_blocks` = head - checkpoint, with the
    more recent (higher) of the caller's head and the head the indexer last saw (null when
    neither is known)."""
    block = _int(meta.get("checkpoint_block"))
    heads = [h for h in (head, _int(meta.get("head_block"))) if h is not None]
    lag = max(0, max(heads) - block) if heads and block is not None else None
    return {
        "block": block,
        "block_hash": meta.get("checkpoint_hash"),
        "timestamp": _int(meta.get("checkpoint_time")),
        "lag_blocks": lag,
    }


def _class_key(provider_class: int) -> str:
    return f"class.{provider_class}"


def min_stake(class_params: str | None, gpus: int) -> int | None:
    """`minStakeOf`: base + per-GPU minimum x declared GPUs, from the indexed `ClassParamsSet`
    (the stored `params` value `class.<n>`); None if the class's parameters are not indexed."""
    if class_params is None:
        return None
    c = json.loads(class_params)
    return int(c["base_min_stake"]) + int(c["per_gpu_min_stake"]) * gpus


def _stake(p: ProviderRow | None, params: dict[str, str], now: int) -> dict[str, Any]:
    gpus = p.gpus if p else 0
    minimum = min_stake(params.get(_class_key(p.provider_class if p else 0)), gpus)
    active = p.active if p else 0
    unbonding = p.unbonding if p else 0
    # withdrawableOf: nothing while a slash is pending or before the unbonding bucket matures.
    matured = p is not None and p.pending_slashes == 0 and now >= p.unbonding_end
    return {
        "active": str(active),
        "unbonding": str(unbonding),
        "withdrawable": str(unbonding if matured else 0),
        "min_required": None if minimum is None else str(minimum),
        "meets_minimum": None if minimum is None else active >= minimum,
        "unbonding_end": p.unbonding_end if p and p.unbonding_end else None,
    }


def _jail(p: ProviderRow | None) -> dict[str, Any] | None:
    if p is None or not p.jailed:
        return None
    event_type = EventType(p.jail_event_type).wire if p.jail_event_type is not None else None
    if p.tombstoned:
        reason = f"tombstoned by governance (reason hash {p.tombstone_reason})"
    elif event_type is not None:
        reason = f"{event_type} verdict {p.jail_verdict_id}"
    else:
        reason = "isolated"
    return {
        "until": p.jailed_until or None,
        "reason": reason,
        "verdict_id": p.jail_verdict_id,
        "event_type": event_type,
        "since": p.jailed_at,
    }


def _probation(p: ProviderRow | None, status: str, clock: EpochClock | None) -> dict[str, Any] | None:
    """While the status is probation: when it began and the first epoch at full reward weight."""
    if status != "probation" or p is None or p.reinstated_at is None or clock is None:
        return None
    return {
        "reinstated_at": p.reinstated_at,
        "until_epoch": clock.epoch_at(p.reinstated_at) + p.probation_epochs,
    }


def _path_name(path: int) -> str:
    return RecoveryPath(path).wire.replace("_", " ")


def _stage_step(path: int, stage: int) -> str:
    """What happens next at `stage` of an open recovery `path`, and who acts."""
    name = _path_name(path)
    if stage == RecoveryStage.DETECTION:
        return f"governance moves the {name} to the response stage (advanceRecovery)"
    if stage == RecoveryStage.RESPONSE:
        work = {
            RecoveryPath.SERVICE_IMPROVEMENT: "fix the performance / availability problems the verdict named",
            RecoveryPath.SECURITY_REVIEW: "the security team reviews the incident with the provider",
            RecoveryPath.COMPLIANCE_VERIFICATION: "bring the node back into compliance with the policy",
        }[RecoveryPath(path)]
        return f"{work}; governance then advances the {name} to the recovery stage (advanceRecovery)"
    if stage == RecoveryStage.RECOVERY:
        return (
            f"governance verifies the outcome of the {name} and advances it to the restoration "
            "stage (advanceRecovery)"
        )
    return (
        "governance reinstates the provider (reinstate): the jail is lifted and a probation of "
        "reduced reward weight begins"
    )


def _recovery(
    p: ProviderRow | None,
    guidance: int | None,
    now: int,
    stake: dict[str, Any],
    paused: bool,
) -> dict[str, Any] | None:
    if p is None or p.tombstoned:
        return None
    if p.recovery_path:
        return {
            "path": RecoveryPath(p.recovery_path).wire,
            "stage": RecoveryStage(p.recovery_stage).wire,
            "next_step": _stage_step(p.recovery_path, p.recovery_stage),
        }
    if not p.jailed:
        return None
    if p.jailed_until == 0:
        step = "governance opens a recovery path (beginRecovery) or reinstates the provider (reinstate)"
        return {"path": None, "stage": None, "next_step": step}
    # A timed jail: the provider lifts it itself. The policy's path for the verdict is guidance.
    path = RecoveryPath(guidance).wire if guidance else None
    shortfall = 0
    if stake["min_required"] is not None:
        shortfall = max(0, int(stake["min_required"]) - int(stake["active"]))
    top_up = f"stake {shortfall} more base units (to min_required), then " if shortfall else ""
    if now >= p.jailed_until:
        step = f"the jail expired at {_iso(p.jailed_until)}: {top_up}call unjail() to return to active"
    else:
        step = f"wait until the jail ends at {_iso(p.jailed_until)}, then {top_up}call unjail()"
    if paused:
        step += " (the contract is paused: unjail() waits until governance unpauses it)"
    return {"path": path, "stage": None, "next_step": step}


def _strikes(rows: list[Any], policy: Policy) -> dict[str, Any]:
    """`rows`: the offences in the window, newest first."""
    return {
        "in_window": len(rows),
        "level": rows[0].level if rows else "none",
        "window_days": policy.window_days,
        "last_detected_at": rows[0].detected_at if rows else None,
    }


def _rewards(
    p: ProviderRow | None, status: str, stake: dict[str, Any], now: int, clock: EpochClock | None
) -> dict[str, Any]:
    reasons: list[str] = [Ineligible(status)] if status in INELIGIBLE_STATUSES else []
    if p is not None and p.pending_slashes:
        reasons.append(Ineligible.PENDING_SLASH)
    if stake["meets_minimum"] is False and status not in _UNBONDED:
        reasons.append(Ineligible.BELOW_MINIMUM_STAKE)
    eligible = not reasons
    if status == ProviderStatus.PROBATION:
        reasons.append(Ineligible.PROBATION)
    return {
        "epoch": clock.epoch_at(now) if clock else None,
        "eligible": eligible,
        "reasons": reasons,
        "weight": None,
    }


def _last_computed(reward_epochs: list[tuple[int, Any]], current_epoch: int | None) -> dict[str, Any] | None:
    """The most recent epoch the rewards job computed (not after the current one): its verdict on
    this provider and weight; None before any. `reward_epochs`: see `_Parts`."""
    summary = summarize(reward_epochs, current_epoch)
    return summary if summary["epoch"] is not None else None


# ------------------------------------------------------------------------------------------ slashes

_SLASH_ORDER = (t.slashes.c.proposed_block.desc(), t.slashes.c.id.desc())


def _slashes_query() -> Any:
    s, v = t.slashes, t.verdicts
    return select(s, v.c.status.label("verdict_status")).select_from(s.outerjoin(v, v.c.id == s.c.id))


# Statements built once: a lookup then only binds its values (SQLAlchemy caches the compiled SQL).
_SETTINGS = union_all(
    select(literal_column("'m'").label("source"), t.meta.c.key.label("name"), t.meta.c.value).where(
        t.meta.c.key.in_(META_KEYS)
    ),
    select(literal_column("'p'"), t.params.c.name, t.params.c.value).where(t.params.c.name.in_(_PARAM_NAMES)),
)
_PROVIDER = select(t.providers).where(t.providers.c.address == bindparam("address"))
_PROVIDER_SLASHES = (
    _slashes_query().where(t.slashes.c.provider == bindparam("provider")).order_by(*_SLASH_ORDER)
)
_LATEST_EPOCHS = (
    select(t.reward_epochs.c.epoch).order_by(t.reward_epochs.c.epoch.desc()).limit(4).subquery("e")
)
_REWARD_EPOCHS = (
    select(
        _LATEST_EPOCHS.c.epoch,
        t.reward_weights.c.provider.is_not(None).label("present"),
        t.reward_weights.c.eligible,
        t.reward_weights.c.weight,
        t.reward_weights.c.reasons,
    )
    .select_from(
        _LATEST_EPOCHS.outerjoin(
            t.reward_weights,
            and_(
                t.reward_weights.c.epoch == _LATEST_EPOCHS.c.epoch,
                t.reward_weights.c.provider == bindparam("address"),
            ),
        )
    )
    .order_by(_LATEST_EPOCHS.c.epoch.desc())
)
_STRIKES = (
    select(t.verdicts.c.detected_at, t.verdicts.c.level)
    .where(
        t.verdicts.c.provider == bindparam("provider"),
        t.verdicts.c.status != NOT_A_STRIKE_STATUS,
        t.verdicts.c.level != NOT_A_STRIKE_LEVEL,
        t.verdicts.c.detected_at > bindparam("since"),
        t.verdicts.c.detected_at <= bindparam("now"),
    )
    .order_by(t.verdicts.c.detected_at.desc(), t.verdicts.c.received_ms.desc())
)


def slash_item(r: Any) -> dict[str, Any]:
    """A slash as the API shows it. `id` is the verdict id (the contract keys slashes by it);
    `verdict_status` is the service's status of that verdict, null when it did not come through
    this service's intake (then `verdict` is null too). `amount`: proposed, or executed once
    executed. `proposed_tx` / `resolved_tx`: the proposal and the veto or execution."""
    state = SlashState(r.state).wire
    return {
        "id": r.id,
        "provider": r.provider,
        "state": state,
        "bps": r.bps,
        "amount": str(r.amount),
        "from_active": None if r.from_active is None else str(r.from_active),
        "from_unbonding": None if r.from_unbonding is None else str(r.from_unbonding),
        "event_type": EventType(r.event_type).wire,
        "severity": Severity(r.severity).wire,
        "evidence_hash": r.evidence_hash,
        "proposed_at": r.proposed_at,
        "executable_at": r.executable_at,
        "proposed_block": r.proposed_block,
        "proposed_tx": r.proposed_tx,
        "resolved_block": r.resolved_block,
        "resolved_tx": r.resolved_tx,
        "veto_reason": r.veto_reason,
        "vetoer": r.vetoer,
        "verdict_id": r.id,
        "verdict_status": r.verdict_status,
        "verdict": f"/v1/verdicts/{r.id}" if r.verdict_status is not None else None,
    }


def list_slashes(
    conn: Connection,
    state: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    *,
    provider: str | None = None,
) -> dict[str, Any]:
    """Slashes newest first (by proposal block), optionally of one `state` ("pending",
    "executed", "vetoed") and/or one `provider`: `{"items", "next_cursor", "as_of"}`.

    Raises ValueError for an unknown state, a limit outside 1..MAX_PAGE or a foreign cursor,
    InvalidAddress for a malformed provider."""
    if state is not None and state not in SLASH_STATES:
        raise ValueError(f"state must be one of {', '.join(SLASH_STATES)}")
    _check_limit(limit)
    s = t.slashes
    query = _slashes_query().order_by(*_SLASH_ORDER).limit(limit + 1)
    if state is not None:
        query = query.where(s.c.state == int(SlashState.from_wire(state)))
    if provider is not None:
        query = query.where(s.c.provider == normalize_address(provider))
    if cursor is not None:
        block, sid = decode_cursor("slash", cursor, NUMBER, SLASH_ID)
        query = query.where(
            or_(s.c.proposed_block < int(block), and_(s.c.proposed_block == int(block), s.c.id < sid))
        )
    rows = conn.execute(query).all()
    page = rows[:limit]
    more = len(rows) > limit
    return {
        "items": [slash_item(r) for r in page],
        "next_cursor": encode_cursor("slash", page[-1].proposed_block, page[-1].id) if more else None,
        "as_of": as_of(_meta(conn)),
    }


# ---------------------------------------------------------------------------------------- providers


def _status_condition(status: str, now: int, clock: EpochClock | None) -> ColumnElement[bool]:
    """SQL for `provider_status(row, now, clock) == status` (checked equal in the tests)."""
    p = t.providers.c
    if status == "unregistered":
        return false()  # no row
    if status == "tombstoned":
        return p.tombstoned == true()
    if status == "in_recovery":
        return and_(p.tombstoned == false(), p.recovery_path != 0)
    free = and_(p.tombstoned == false(), p.recovery_path == 0)
    if status == "jailed":
        return and_(free, p.jailed == true())
    free = and_(free, p.jailed == false())
    if status == "unbonding":
        return and_(free, p.active == 0, p.unbonding != 0)
    if status == "exited":
        return and_(free, p.active == 0, p.unbonding == 0)
    bonded = and_(free, p.active != 0)
    if clock is None:
        probation: ColumnElement[bool] = false()
    else:
        # epoch_at(now) < epoch_at(reinstated_at) + probation_epochs, without SQL division:
        # max(0, (r - g) // L) >= k  <=>  k <= 0 or r >= g + k * L,  k = epoch_at(now) + 1 - epochs.
        k = clock.epoch_at(now) + 1 - p.probation_epochs
        probation = and_(
            p.reinstated_at.is_not(None),
            p.probation_epochs != 0,
            or_(k <= 0, p.reinstated_at >= clock.genesis + k * clock.length),
        )
    if status == "probation":
        return and_(bonded, probation)
    return and_(bonded, ~probation)  # active


def provider_summary(
    p: ProviderRow, now: int, clock: EpochClock | None, params: dict[str, str]
) -> dict[str, Any]:
    """A provider in a listing: identity, status and stake (the full document is one link away)."""
    status, reason = provider_status(p, now, clock or EpochClock(0, 1))
    return {
        "address": p.address,
        "class": ProviderClass(p.provider_class).wire,
        "gpus": p.gpus,
        "status": status,
        "status_reason": reason,
        "stake": _stake(p, params, now),
        "jailed_until": p.jailed_until if p.jailed and p.jailed_until else None,
        "pending_slashes": p.pending_slashes,
        "link": f"/v1/providers/{p.address}",
    }


def list_providers(
    conn: Connection,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    *,
    now: int | None = None,
) -> dict[str, Any]:
    """Registered providers by address (keyset pages), optionally only those with `status`:
    `{"items": [provider_summary...], "next_cursor", "as_of"}`. `now` defaults to the wall clock
    (evaluated at `max(now, last indexed block time)` like `provider_standing`).

    Raises ValueError for an unknown status, a limit outside 1..MAX_PAGE or a foreign cursor."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    _check_limit(limit)
    meta, params = _settings(conn)
    clock = _epoch_clock(meta)
    at = max(int(time.time()) if now is None else now, _int(meta.get("checkpoint_time")) or 0)
    p = t.providers.c
    query = select(t.providers).order_by(p.address).limit(limit + 1)
    if status is not None:
        query = query.where(_status_condition(status, at, clock))
    if cursor is not None:
        (after,) = decode_cursor("provider", cursor, ADDRESS)
        query = query.where(p.address > after)
    rows = [row_from(ProviderRow, r) for r in conn.execute(query).mappings()]
    page = rows[:limit]
    return {
        "items": [provider_summary(r, at, clock, params) for r in page],
        "next_cursor": encode_cursor("provider", page[-1].address) if len(rows) > limit else None,
        "as_of": as_of(meta),
    }


# ------------------------------------------------------------------------------------------- events


def _event_args(args: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v) if k in AMOUNT_ARGS and isinstance(v, int) else v for k, v in args.items()}


def provider_events(
    conn: Connection, address: str, limit: int = 50, cursor: str | None = None
) -> dict[str, Any]:
    """The indexed SwarmStaking events filed under `address` (as provider, or as the account of a
    role change or reward claim), newest first: `{"items", "next_cursor", "as_of"}`. Each item:
    `{block, log_index, block_hash, tx_hash, time, name, args}`; amount arguments are decimal
    strings. Raises InvalidAddress / ValueError like `list_slashes`."""
    addr = normalize_address(address)
    _check_limit(limit)
    e = t.events.c
    query = (
        select(e.block_number, e.log_index, e.block_hash, e.tx_hash, e.block_time, e.name, e.args)
        .where(e.provider == addr)
        .order_by(e.block_number.desc(), e.log_index.desc())
        .limit(limit + 1)
    )
    if cursor is not None:
        block, index = (int(x) for x in decode_cursor("event", cursor, NUMBER, NUMBER))
        query = query.where(or_(e.block_number < block, and_(e.block_number == block, e.log_index < index)))
    rows = conn.execute(query).all()
    page = rows[:limit]
    items = [
        {
            "block": r.block_number,
            "log_index": r.log_index,
            "block_hash": r.block_hash,
            "tx_hash": r.tx_hash,
            "time": r.block_time,
            "name": r.name,
            "args": _event_args(json.loads(r.args)),
        }
        for r in page
    ]
    last = page[-1] if page else None
    more = last is not None and len(rows) > limit
    return {
        "items": items,
        "next_cursor": encode_cursor("event", last.block_number, last.log_index) if more and last else None,
        "as_of": as_of(_meta(conn)),
    }


# ------------------------------------------------------------------------------------------ cursors


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
