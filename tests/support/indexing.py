"""Indexing the session's Anvil into a database, and reading the result back."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from web3 import Web3

from indexer.projection import ProviderRow, row_from
from indexer.runner import Indexer, IndexerConfig
from staking.chain.contracts import ROLE_NAMES
from staking.db import schema as t
from staking.db.engine import make_engine
from staking.devnet.accounts import devnet_account
from staking.domain.clock import EpochClock
from tests.support.chain import Chain

ACCOUNT_COUNT = 20  # anvil --accounts 20
SPARE_ACCOUNTS = tuple(range(12, ACCOUNT_COUNT))  # no role, not a demo provider, treasury or stranger
UNLIMITED = 2**255
ZERO32 = "0x" + "00" * 32
ALL_ROLES = ("DEFAULT_ADMIN_ROLE", *ROLE_NAMES)
TABLES = ("meta", "blocks", "events", "providers", "slashes", "appeals", "epochs", "roles", "params")


def accounts() -> list[str]:
    return [devnet_account(i).address for i in range(ACCOUNT_COUNT)]


# ------------------------------------------------------------------------------------------ indexing


def make_indexer(db_url: str, chain: Chain, config: IndexerConfig | None = None) -> Indexer:
    return Indexer(make_engine(db_url), chain.w3, chain.deployment, config or IndexerConfig())


def index_to_head(
    db_url: str,
    chain: Chain,
    config: IndexerConfig | None = None,
    *,
    indexer: Indexer | None = None,
    timeout: float = 60.0,
) -> Indexer:
    """Run an indexer (a new one unless `indexer` is given) until it reports the head; returns it.

    Bounded: a timer stops the loop after `timeout` seconds and the test fails."""
    indexer = indexer or make_indexer(db_url, chain, config)
    stop = threading.Event()
    timer = threading.Timer(timeout, stop.set)
    timer.daemon = True
    timer.start()
    try:
        indexer.run(stop, exit_at_head=True)
    finally:
        timer.cancel()
    assert not stop.is_set(), f"indexer did not reach the head within {timeout}s: {indexer.status}"
    head = chain.w3.eth.block_number
    checkpoint = indexer.store.checkpoint().block
    assert checkpoint == head, (
        f"run(exit_at_head=True) returned with the database at block {checkpoint}, head is {head}: "
        f"{indexer.status}"
    )
    assert indexer.status.indexed == checkpoint, (
        f"status.indexed {indexer.status.indexed} != the database's checkpoint {checkpoint}"
    )
    return indexer


# ------------------------------------------------------------------------------------------ reading


def dump_tables(db_url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every indexer table, ordered by key, without autoincrement ids."""
    engine = make_engine(db_url)
    out: dict[str, list[dict[str, Any]]] = {}
    try:
        with engine.connect() as conn:
            for name in TABLES:
                table = t.metadata.tables[name]
                if name == "events":
                    order = [table.c.block_number, table.c.log_index]
                else:
                    order = list(table.primary_key.columns)
                rows = conn.execute(select(table).order_by(*order)).mappings()
                out[name] = [
                    {k: v for k, v in r.items() if not (name == "events" and k == "id")} for r in rows
                ]
    finally:
        engine.dispose()
    return out


def read_meta(db_url: str) -> dict[str, str]:
    return {r["key"]: r["value"] for r in dump_tables_subset(db_url, "meta")}


def dump_tables_subset(db_url: str, name: str) -> list[dict[str, Any]]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(t.metadata.tables[name])).mappings()]
    finally:
        engine.dispose()


def provider_rows(db_url: str) -> dict[str, ProviderRow]:
    return {r["address"]: row_from(ProviderRow, r) for r in dump_tables_subset(db_url, "providers")}


def epoch_clock(db_url: str) -> EpochClock:
    meta = read_meta(db_url)
    return EpochClock(int(meta["epoch_genesis"]), int(meta["epoch_length"]))


def rpc_batch(w3: Web3, requests: list[tuple[str, list[Any]]]) -> list[Any]:
    """One JSON-RPC batch; results in request order."""
    if not requests:
        return []
    out: list[Any] = []
    for i in range(0, len(requests), 200):
        part = requests[i : i + 200]
        responses: Any = w3.provider.make_batch_request(part)  # type: ignore[attr-defined]
        assert isinstance(responses, list) and len(responses) == len(part), responses
        for r in sorted(responses, key=lambda r: r["id"]):
            assert "error" not in r, r
            out.append(r["result"])
    return out


def canonical_hashes(chain: Chain, numbers: Iterable[int]) -> dict[int, str | None]:
    nums = sorted(set(numbers))
    blocks = rpc_batch(chain.w3, [("eth_getBlockByNumber", [hex(n), False]) for n in nums])
    return {n: (b["hash"] if b else None) for n, b in zip(nums, blocks, strict=True)}


def noncanonical_rows(db_url: str, chain: Chain) -> list[str]:
    """events and blocks rows whose block hash is not the node's canonical hash at that height."""
    events = dump_tables_subset(db_url, "events")
    blocks = dump_tables_subset(db_url, "blocks")
    canon = canonical_hashes(chain, [e["block_number"] for e in events] + [b["number"] for b in blocks])
    out = [
        f"events row {e['name']} at block {e['block_number']} (log {e['log_index']}) has orphaned hash "
        f"{e['block_hash']} (canonical {canon[e['block_number']]})"
        for e in events
        if canon[e["block_number"]] != e["block_hash"]
    ]
    out += [
        f"blocks row {b['number']} has orphaned hash {b['hash']} (canonical {canon[b['number']]})"
        for b in blocks
        if canon[b["number"]] != b["hash"]
    ]
    return out
