"""The read model's SQL: a consistent snapshot, the statements a provider document is read with
on SQLite (one primary-key / indexed lookup each: in process, each costs microseconds), and the
settings every document shares. The PostgreSQL one-statement form is `one_statement`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, literal_column, select, text, union_all

from staking.db import schema as t
from staking.domain.strikes import NOT_A_STRIKE_LEVEL, NOT_A_STRIKE_STATUS
from staking.domain.vocabulary import TxState
from staking.policy import Policy
from staking.readmodel.parts import (
    APPEAL_COLUMNS,
    META_KEYS,
    PARAM_NAMES,
    Parts,
    checkpoint_block,
    evaluated_at,
)

# A transaction the node has mined: the effect is on chain, whether or not deep enough yet.
ON_CHAIN = (TxState.MINED.value, TxState.CONFIRMED.value)


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


SLASH_ORDER = (t.slashes.c.proposed_block.desc(), t.slashes.c.id.desc())


def slashes_query() -> Any:
    """Slashes with the service's status of their verdict (`verdict_status`, null for a slash
    that did not come through this intake) and their appeal (`appeal_<column>`, null without)."""
    s, v, a = t.slashes, t.verdicts, t.appeals
    return select(
        s, v.c.status.label("verdict_status"), *(a.c[c].label(f"appeal_{c}") for c in APPEAL_COLUMNS)
    ).select_from(s.outerjoin(v, v.c.id == s.c.id).outerjoin(a, a.c.id == s.c.id))


# Statements built once: a lookup then only binds its values (SQLAlchemy caches the compiled SQL).
_SETTINGS = union_all(
    select(literal_column("'m'").label("source"), t.meta.c.key.label("name"), t.meta.c.value).where(
        t.meta.c.key.in_(META_KEYS)
    ),
    select(literal_column("'p'"), t.params.c.name, t.params.c.value).where(t.params.c.name.in_(PARAM_NAMES)),
)
_PROVIDER = select(t.providers).where(t.providers.c.address == bindparam("address"))
_PROVIDER_SLASHES = (
    slashes_query().where(t.slashes.c.provider == bindparam("provider")).order_by(*SLASH_ORDER)
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
# The service's own actions against the provider whose transaction is mined after the indexer's
# checkpoint: on chain, not yet in the projection. By the provider's verdicts (indexed), their
# actions (by verdict id, the unique key's prefix) and each action's intent (primary key).
_IN_FLIGHT = (
    select(
        t.actions.c.kind,
        t.actions.c.verdict_id,
        t.tx_intents.c.tx_hash,
        t.tx_intents.c.mined_block.label("block"),
        t.tx_intents.c.nonce,
    )
    .select_from(
        t.verdicts.join(t.actions, t.actions.c.verdict_id == t.verdicts.c.id).join(
            t.tx_intents, t.tx_intents.c.id == t.actions.c.intent_id
        )
    )
    .where(
        t.verdicts.c.provider == bindparam("provider"),
        t.tx_intents.c.state.in_(ON_CHAIN),
        t.tx_intents.c.mined_block > bindparam("checkpoint"),
    )
    .order_by(t.tx_intents.c.mined_block, t.tx_intents.c.nonce)  # as they went out: isolation first
)


# SPEC section 8: a provider's actions an open incident holds, and its verdicts' signers. Plain SQL
# shared with the PostgreSQL one-statement read (`one_statement.ONE_STATEMENT`).
HELD_SQL = """
SELECT a.kind, a.verdict_id, a.note, v.received_ms, a.seq,
       (SELECT MIN(iv.incident_id) FROM incident_verdicts iv JOIN incidents i ON i.id = iv.incident_id
         WHERE iv.verdict_id = a.verdict_id AND i.state = 'open') AS incident_id
  FROM verdicts v JOIN actions a ON a.verdict_id = v.id
 WHERE v.provider = :address AND a.state = 'held'"""
SIGNERS_SQL = """
SELECT s.verdict_id, s.signer, s.received_ms
  FROM verdicts v JOIN verdict_signers s ON s.verdict_id = v.id
 WHERE v.provider = :address"""
_HELD = text(HELD_SQL + "\n ORDER BY v.received_ms, a.seq")
_SIGNERS = text(SIGNERS_SQL + "\n ORDER BY s.received_ms, s.signer")


def settings(conn: Connection) -> tuple[dict[str, str], dict[str, str]]:
    """(meta, params) the documents need, in one statement."""
    meta: dict[str, str] = {}
    params: dict[str, str] = {}
    for r in conn.execute(_SETTINGS):
        (meta if r.source == "m" else params)[r.name] = r.value
    return meta, params


def meta(conn: Connection) -> dict[str, str]:
    return settings(conn)[0]


def fetch_parts(conn: Connection, addr: str, now: int, policy: Policy) -> Parts:
    """The parts of `addr`'s document (checksummed) at `now`, one statement each."""
    meta, params = settings(conn)
    at = evaluated_at(meta, now)
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
    in_flight = conn.execute(_IN_FLIGHT, {"provider": addr, "checkpoint": checkpoint_block(meta)}).all()
    return Parts(
        meta=meta,
        params=params,
        provider=provider,
        jail_guidance=guidance,
        slashes=list(conn.execute(_PROVIDER_SLASHES, {"provider": addr})),
        strikes=list(strikes),
        reward_epochs=reward_epochs,
        in_flight=list(in_flight),
        held=list(conn.execute(_HELD, {"address": addr})),
        signers=list(conn.execute(_SIGNERS, {"address": addr})),
    )
