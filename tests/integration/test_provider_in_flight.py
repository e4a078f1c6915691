"""Right after the service's jail is mined, before the indexer reaches its block, the provider
document already shows it under `in_flight` (the status is still the indexed one); once the
indexer's checkpoint reaches that block it is gone. On SQLite (per-lookup statements) and on
PostgreSQL (the one statement, synchronous and asynchronous), rows written directly."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, update

from indexer.projection import ProviderRow, row_dict
from staking.api.providers import ProviderStanding
from staking.db import schema as t
from staking.db.engine import make_engine
from staking.policy import load_policy
from staking.readmodel import read_provider_standing

pytestmark = pytest.mark.integration

A = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
OTHER = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"
SIGNER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
NOW = 1_800_000_000


def vid(n: int) -> str:
    return f"0x{n:064x}"


def txh(n: int) -> str:
    return f"0x{n + 0xA000:064x}"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        for p in (A, OTHER):
            conn.execute(t.providers.insert(), row_dict(ProviderRow(p, 0, 1, "", 1, 1, active=10)))
    yield engine
    engine.dispose()


def add_action(engine: Engine, n: int, provider: str, kind: str, tx_state: str, block: int | None) -> None:
    """Verdict `n` against `provider` with one `kind` action whose transaction is in `tx_state`."""
    verdict = {
        "id": vid(n),
        "provider": provider,
        "event_type": 0,
        "severity": 3,
        "detected_at": NOW - 100,
        "evidence_hash": vid(0xE),
        "signature": "0x" + "00" * 65,
        "signer": SIGNER,
        "content_hash": "0" * 64,
        "status": "executing",
        "level": "penalty",
        "offence_number": 1,
        "slash_bps": 500,
        "jail_seconds": 0,
        "recovery_path": 2,
        "deadline_ms": NOW * 1000,
        "received_ms": NOW * 1000,
        "updated_ms": NOW * 1000,
    }
    intent = {
        "idempotency_key": f"{kind}:{vid(n)}",
        "signer": SIGNER,
        "nonce": n,
        "to_address": SIGNER,
        "data": "0x",
        "gas": 100_000,
        "state": tx_state,
        "tx_hash": txh(n),
        "attempts": 1,
        "mined_block": block,
        "created_ms": NOW * 1000,
    }
    with engine.begin() as conn:
        conn.execute(t.verdicts.insert(), verdict)
        intent_id = conn.execute(t.tx_intents.insert().returning(t.tx_intents.c.id), intent).scalar_one()
        action_state = {"confirmed": "confirmed", "failed": "failed"}.get(tx_state, "submitted")
        conn.execute(
            t.actions.insert(),
            {
                "verdict_id": vid(n),
                "seq": 0,
                "kind": kind,
                "state": action_state,
                "intent_id": intent_id,
                "deadline_ms": NOW * 1000,
            },
        )


def set_checkpoint(engine: Engine, block: int) -> None:
    with engine.begin() as conn:
        done = conn.execute(update(t.meta).where(t.meta.c.key == "checkpoint_block").values(value=str(block)))
        if not done.rowcount:
            conn.execute(t.meta.insert(), {"key": "checkpoint_block", "value": str(block)})


def documents(engine: Engine, address: str = A) -> list[dict[str, Any]]:
    """The document by every read path the database has (all must agree)."""
    policy = load_policy()
    docs = [read_provider_standing(engine, address, NOW, policy)]
    if engine.dialect.name == "postgresql":
        from staking.api.pg_lookups import AsyncStandingReader

        async def lookup() -> dict[str, Any]:
            reader = AsyncStandingReader(engine)
            try:
                return await reader.standing(address, NOW, policy, None)
            finally:
                await reader.close()

        docs.append(asyncio.run(lookup()))
    for doc in docs:
        ProviderStanding.model_validate(doc)
    assert all(d == docs[0] for d in docs)
    return docs


def in_flight(engine: Engine, address: str = A) -> list[tuple[str, str, int]]:
    doc = documents(engine, address)[0]
    return [(a["kind"], a["verdict_id"], a["block"]) for a in doc["in_flight"]]


def test_a_jail_mined_after_the_checkpoint_shows_in_flight_until_the_indexer_reaches_it(
    engine: Engine,
) -> None:
    set_checkpoint(engine, 100)
    assert in_flight(engine) == []
    add_action(engine, 1, A, "jail", "confirmed", 101)
    doc = documents(engine)[0]
    assert doc["status"] == "active"  # the projection has not seen the Jailed event yet
    assert doc["in_flight"] == [{"kind": "jail", "verdict_id": vid(1), "tx_hash": txh(1), "block": 101}]
    add_action(engine, 2, A, "propose_slash", "mined", 103)  # mined, not yet deep enough: on chain too
    assert in_flight(engine) == [("jail", vid(1), 101), ("propose_slash", vid(2), 103)]

    set_checkpoint(engine, 101)  # the indexer reached the jail's block
    assert in_flight(engine) == [("propose_slash", vid(2), 103)]
    set_checkpoint(engine, 103)
    assert in_flight(engine) == []


def test_only_this_providers_mined_actions_after_the_checkpoint_are_in_flight(engine: Engine) -> None:
    set_checkpoint(engine, 200)
    add_action(engine, 1, A, "jail", "confirmed", 200)  # in the checkpoint block: indexed
    add_action(engine, 2, A, "propose_slash", "sent", None)  # not mined
    add_action(engine, 3, A, "begin_recovery", "failed", None)
    add_action(engine, 4, OTHER, "jail", "confirmed", 201)  # another provider's
    add_action(engine, 5, A, "begin_recovery", "confirmed", 202)
    assert in_flight(engine) == [("begin_recovery", vid(5), 202)]
    assert in_flight(engine, OTHER) == [("jail", vid(4), 201)]


def test_before_the_indexers_first_batch_every_mined_action_is_in_flight(engine: Engine) -> None:
    add_action(engine, 1, A, "jail", "confirmed", 5)
    assert in_flight(engine) == [("jail", vid(1), 5)]
    assert documents(engine, "0x00000000000000000000000000000000DeaDBeef")[0]["in_flight"] == []
