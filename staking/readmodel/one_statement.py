"""PostgreSQL: the whole provider document's parts in ONE statement (one round trip; a single
statement reads one snapshot, so no transaction is opened). Over a network every round trip costs
more than the SQL it carries: eight of them made this lookup 4x slower than on SQLite.

It reads the 4 most recent computed epochs: the rewards job may be an epoch ahead of the API.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import text

from staking.domain.strikes import NOT_A_STRIKE_LEVEL, NOT_A_STRIKE_STATUS
from staking.policy import Policy
from staking.readmodel.parts import APPEAL_COLUMNS, META_KEYS, PARAM_NAMES, Parts, Row
from staking.readmodel.queries import HELD_SQL, ON_CHAIN, SIGNERS_SQL

_TEMPLATE = """
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
      SELECT s.*, v.status AS verdict_status, {appeal} FROM slashes s
        LEFT JOIN verdicts v ON v.id = s.id LEFT JOIN appeals a ON a.id = s.id
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
  ) AS reward_epochs,
  (SELECT json_agg(x) FROM (
      SELECT a.kind, a.verdict_id, i.tx_hash, i.mined_block AS block, i.nonce
        FROM verdicts v JOIN actions a ON a.verdict_id = v.id JOIN tx_intents i ON i.id = a.intent_id
       WHERE v.provider = :address AND i.state = ANY(:on_chain)
         AND i.mined_block > COALESCE(
             (SELECT CAST(value AS BIGINT) FROM meta WHERE key = 'checkpoint_block'), -1)) x
  ) AS in_flight,
  (SELECT json_agg(x) FROM ({held}) x) AS held,
  (SELECT json_agg(x) FROM ({signers}) x) AS signers
"""
# Every piece is this package's own constants (queries.py, parts.py), shared with the SQLite reads.
_APPEAL = ", ".join(f"a.{c} AS appeal_{c}" for c in APPEAL_COLUMNS)
ONE_STATEMENT = text(_TEMPLATE.format(held=HELD_SQL, signers=SIGNERS_SQL, appeal=_APPEAL))

# The same statement for a plain psycopg connection (the API's asynchronous lookups).
ONE_STATEMENT_PSYCOPG = re.sub(r":(\w+)", r"%(\1)s", ONE_STATEMENT.text)


def one_statement_values(addr: str, now: int, policy: Policy) -> dict[str, Any]:
    """The values `ONE_STATEMENT` binds for `addr` (checksummed) at `now`."""
    since = now - policy.window_seconds  # a superset of the window: see `Parts.strikes`
    return {
        "address": addr,
        "since": since,
        "meta_keys": list(META_KEYS),
        "param_names": list(PARAM_NAMES),
        "not_a_strike_status": str(NOT_A_STRIKE_STATUS),
        "not_a_strike_level": str(NOT_A_STRIKE_LEVEL),
        "on_chain": list(ON_CHAIN),
    }


def parts_from_one_statement(r: Any) -> Parts:
    """`Parts` from the row of `ONE_STATEMENT` (attribute access by column name)."""
    meta: dict[str, str] = {}
    params: dict[str, str] = {}
    for source, name, value in r.settings or ():
        (meta if source == "m" else params)[name] = value
    slashes = sorted(map(Row, r.slashes or ()), key=lambda s: (s.proposed_block, s.id), reverse=True)
    strikes = sorted(map(Row, r.strikes or ()), key=lambda s: (s.detected_at, s.received_ms), reverse=True)
    epochs = sorted(map(Row, r.reward_epochs or ()), key=lambda e: e.epoch, reverse=True)
    in_flight = sorted(map(Row, r.in_flight or ()), key=lambda a: (a.block, a.nonce))
    held = sorted(map(Row, r.held or ()), key=lambda a: (a.received_ms, a.seq))
    signers = sorted(map(Row, r.signers or ()), key=lambda s: (s.received_ms, s.signer))
    return Parts(
        meta=meta,
        params=params,
        provider=r.provider,
        jail_guidance=r.jail_guidance,
        slashes=slashes,
        strikes=strikes,
        reward_epochs=[(int(e.epoch), e if e.present else None) for e in epochs],
        in_flight=in_flight,
        held=held,
        signers=signers,
    )
