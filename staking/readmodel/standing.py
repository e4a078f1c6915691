"""Where a provider stands: the `GET /v1/providers/{address}` document (SPEC section 4), read on
one snapshot and built by `documents.standing_from_parts`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine

from staking.domain.ids import normalize_address
from staking.policy import Policy
from staking.readmodel.documents import standing_from_parts
from staking.readmodel.one_statement import ONE_STATEMENT, one_statement_values, parts_from_one_statement
from staking.readmodel.queries import fetch_parts, snapshot


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
      `status` and `status_reason` (`staking.domain.status.provider_status`).
    - `stake`: `active`, `unbonding`, `withdrawable`, `min_required`, `meets_minimum`, `unbonding_end`
      — mirroring `stakeOf`, `unbondingOf`, `withdrawableOf` and `minStakeOf` (for an unknown address
      `minStakeOf` answers the hardware class's base minimum, and so does this).
    - `jail`: `{until (null: until recovery), reason, verdict_id, event_type, since}` or null.
    - `recovery`: `{path, stage, next_step}` or null (`staking.recovery` says what comes next). With a
      recovery open on chain, `path` and `stage` are the contract's and `next_step` says what happens
      next and who acts. For a timed jail, `stage` is null and `path` is the policy's recommended
      path for the jailing verdict (guidance: nothing is open on chain); `next_step` tells the
      provider when and how to `unjail()`. Null otherwise — also during probation, when the
      contract has closed the recovery (see `probation`).
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
    - `in_flight`: `[{kind, verdict_id, tx_hash, block}]` — the service's own chain actions against
      the provider (`jail`, `propose_slash`, `begin_recovery`) whose transaction is mined in a block
      after `as_of.block`: on chain already, not yet reflected in the rest of the document (a jail
      shows here while `status` still says what the indexer last saw). Oldest first; empty once the
      indexer has caught up.
    - `held`: `[{kind, verdict_id, incident_id, note}]` — its actions an open incident holds
      (SPEC section 8); each pending slash also lists the detectors it rests on (`signers`).
    - `as_of`: `{block, block_hash, timestamp, lag_blocks}` — the indexer's checkpoint.
    """
    addr = normalize_address(address)
    if conn.dialect.name == "postgresql":
        values = one_statement_values(addr, now, policy)
        parts = parts_from_one_statement(conn.execute(ONE_STATEMENT, values).one())
    else:
        parts = fetch_parts(conn, addr, now, policy)
    return standing_from_parts(parts, addr, now, policy, head)
