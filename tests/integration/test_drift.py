"""The drift check (`staking.worker.drift`) against a real Anvil indexed into each database: a
faithful projection has no findings; corrupted rows are named exactly (provider and field), turn
`/readyz` degraded, show in `/metrics` and reach `notify` once; fixing them clears it all. State
changes mined after the indexed head are not drift (the contract is read at that block), a node
that cannot serve that block's state is read at its latest block, and calls go out in batches.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, select, update
from web3 import HTTPProvider, Web3

from staking.chain.contracts import StakingContract
from staking.db import schema as t
from staking.db.engine import make_engine
from staking.db.meta import DRIFT_FIELDS
from staking.domain.vocabulary import TOKEN, Bps
from staking.worker import jobs
from staking.worker.drift import DriftReport, check_drift
from tests.support.chain import Chain
from tests.support.indexing import index_to_head
from tests.support.intake import PROBLEM_JSON
from tests.support.provider_app import make_app

pytestmark = pytest.mark.integration


@dataclass
class Drift:
    chain: Chain
    engine: Engine
    db_url: str
    client: TestClient
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def notify(self, kind: str, payload: dict[str, Any]) -> None:
        self.events.append((kind, payload))

    def check(self, staking: StakingContract | None = None, **kw: Any) -> DriftReport:
        return check_drift(self.engine, staking or self.chain.staking, self.notify, **kw)

    def index(self) -> None:
        index_to_head(self.db_url, self.chain)

    def rows(self) -> set[tuple[str, str, str, str]]:
        f = t.drift_findings
        with self.engine.connect() as conn:
            q = select(f.c.provider, f.c.field, f.c.projected, f.c.on_chain)
            return {(r.provider, r.field, r.projected, r.on_chain) for r in conn.execute(q)}

    def set(self, table: Any, key: Any, **values: Any) -> None:
        with self.engine.begin() as conn:
            assert conn.execute(update(table).where(key).values(**values)).rowcount == 1

    def provider(self, address: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(select(t.providers).where(t.providers.c.address == address)).one()

    def metrics(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        r = self.client.get("/metrics")
        assert r.status_code == 200, r.text
        return {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(r.text)
            for s in family.samples
        }


@pytest.fixture
def drift(chain: Chain, db_url: str) -> Iterator[Drift]:
    engine = make_engine(db_url)
    index_to_head(db_url, chain)
    with make_app(engine, chain) as client:
        yield Drift(chain, engine, db_url, client)
    engine.dispose()


def pairs(report: DriftReport) -> set[tuple[str, str]]:
    return {(f.provider, f.field) for f in report.findings}


def propose(chain: Chain, provider: str, bps: int = 500) -> str:
    v, sig = chain.signed(provider)
    chain.tx(chain.staking.propose_slash(v, sig, Bps(bps)), chain.service)
    return "0x" + v.id.hex()


def test_corrupted_rows_are_named_degrade_readyz_alert_once_and_clear_when_fixed(drift: Drift) -> None:
    c = drift.chain
    a, b, slashed = c.providers[:3]
    slash_id = propose(c, slashed)
    drift.index()

    started = time.perf_counter()
    clean = drift.check()
    elapsed = time.perf_counter() - started
    # Measured, not asserted: one check of the devnet (7 providers, 1 pending slash, one batch).
    print(f"\ndrift check of the devnet: {elapsed * 1000:.1f} ms for {clean.providers} providers")
    head = c.w3.eth.block_number
    assert clean.findings == [] and clean.block == head and clean.providers == len(c.providers)
    assert clean.slashes == 1 and clean.fallback is None and drift.rows() == set()
    ready = drift.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["drift"]["status"] == "ok"
    assert ready.json()["checks"]["drift"]["block"] == head
    assert drift.events == []

    # Corrupt the projection on purpose: three providers, three fields.
    original_active, original_jailed = drift.provider(a).active, drift.provider(b).jailed
    drift.set(t.providers, t.providers.c.address == a, active=original_active + 1)
    drift.set(t.providers, t.providers.c.address == b, jailed=not original_jailed)
    drift.set(t.slashes, t.slashes.c.id == slash_id, state=3)

    report = drift.check()
    assert pairs(report) == {(a, "active"), (b, "jailed"), (slashed, "slash_state")}
    assert drift.rows() == {
        (a, "active", str(original_active + 1), str(original_active)),
        (b, "jailed", "true", "false"),
        (slashed, "slash_state", f"{slash_id} executed", f"{slash_id} pending"),
    }
    assert report.new == report.findings and report.block == head

    r = drift.client.get("/readyz")
    assert r.status_code == 503 and r.headers["content-type"] == PROBLEM_JSON
    doc = r.json()
    assert doc["type"] == "/problems/not-ready" and r.headers["retry-after"].isdigit()
    assert doc["checks"]["drift"]["status"] == "degraded"
    assert doc["checks"]["drift"]["providers"] == {a: ["active"], b: ["jailed"], slashed: ["slash_state"]}
    assert doc["checks"]["drift"]["providers_total"] == 3
    assert doc["detail"].startswith(f"projection drift at block {head}: 3 provider(s) differ")
    for address, name in ((a, "active"), (b, "jailed"), (slashed, "slash_state")):
        assert f"{address} ({name})" in doc["detail"]

    m = drift.metrics()
    for name in DRIFT_FIELDS:
        want = 1 if name in ("active", "jailed", "slash_state") else 0
        assert m["swarm_drift_findings", frozenset({("field", name)})] == want, name
    assert m["swarm_drift_last_check_timestamp_seconds", frozenset()] == pytest.approx(
        report.checked_ms / 1000
    )

    assert len(drift.events) == 1
    kind, payload = drift.events[0]
    assert kind == "drift" and payload["block"] == head and payload["new_total"] == 3
    assert payload["providers"] == {a: ["active"], b: ["jailed"], slashed: ["slash_state"]}
    assert {(f["provider"], f["field"]) for f in payload["new"]} == pairs(report)

    # The same drift again: still reported, not alerted twice.
    again = drift.check()
    assert pairs(again) == pairs(report) and again.new == [] and len(drift.events) == 1

    # Fix the rows: the next run clears the findings and /readyz is ready again.
    drift.set(t.providers, t.providers.c.address == a, active=original_active)
    drift.set(t.providers, t.providers.c.address == b, jailed=original_jailed)
    drift.set(t.slashes, t.slashes.c.id == slash_id, state=1)
    fixed = drift.check()
    assert fixed.findings == [] and fixed.resolved == 3 and drift.rows() == set()
    assert drift.client.get("/readyz").status_code == 200
    assert drift.metrics()["swarm_drift_findings", frozenset({("field", "active")})] == 0
    assert len(drift.events) == 1


def test_state_changes_mined_after_the_indexed_head_are_not_drift(drift: Drift) -> None:
    c, s = drift.chain, drift.chain.staking
    staker, jailed, slashed = c.providers[3:6]
    slash_id = propose(c, slashed)
    drift.index()
    indexed = c.w3.eth.block_number
    # Real state changes the indexer has not seen yet: more stake, a jail, the slash executed.
    c.approve_and_stake(staker, 10 * TOKEN)
    v, sig = c.signed(jailed)
    c.tx(s.jail(v, sig, 0), c.service)
    c.advance(s.veto_window() + 1)
    c.tx(s.execute_slash(bytes.fromhex(slash_id[2:])), c.stranger)
    assert c.w3.eth.block_number > indexed

    report = drift.check()
    assert report.block == indexed and report.fallback is None
    assert report.findings == [], report.findings
    assert drift.client.get("/readyz").json()["checks"]["drift"]["status"] == "ok"

    # Read at the latest block instead, the same changes would be reported: the test can fail.
    latest = drift.check(staking=through(c, pruned=True)[0])
    assert latest.fallback is not None
    assert pairs(latest) == {
        (staker, "active"),
        (jailed, "jailed"),
        (slashed, "active"),
        (slashed, "pending_slashes"),
        (slashed, "slash_state"),
    }

    drift.index()
    caught_up = drift.check()
    assert caught_up.findings == [] and caught_up.block == c.w3.eth.block_number > indexed
    assert drift.events[-1][0] == "drift" and len(drift.events) == 1  # only the fallback run alerted


def test_unknown_providers_and_missing_slash_rows_are_findings(drift: Drift) -> None:
    c = drift.chain
    owner = c.providers[1]
    slash_id = propose(c, owner)
    drift.index()
    stranger = c.stranger
    row = drift.provider(owner)._asdict()
    with drift.engine.begin() as conn:
        conn.execute(t.providers.insert().values(row | {"address": stranger}))
        conn.execute(t.slashes.delete().where(t.slashes.c.id == slash_id))

    report = drift.check()
    assert drift.rows() == {
        (stranger, "registered", "true", "false"),
        (owner, "pending_slash_rows", "0", "1"),
    }
    assert report.slashes == 0


class Node(HTTPProvider):
    """The devnet's node, counting the JSON-RPC batches (HTTP requests) it receives. `pruned`: it
    answers `eth_call` only at block numbers and tags, like a node that pruned the state of the
    block the projection stands at (EIP-1898 block-hash calls fail as geth's do)."""

    def __init__(self, url: str, pruned: bool = False) -> None:
        super().__init__(url)
        self.pruned = pruned
        self.batches: list[int] = []

    def make_batch_request(self, requests: Any) -> Any:
        self.batches.append(len(requests))
        responses: list[dict[str, Any]] = sorted(super().make_batch_request(requests), key=lambda r: r["id"])
        for (method, params), response in zip(requests, responses, strict=True):
            if self.pruned and method == "eth_call" and isinstance(params[1], dict):
                response.pop("result", None)
                response["error"] = {
                    "code": -32000,
                    "message": "missing trie node 5f3c (path ) state is pruned",
                }
        return responses


def through(chain: Chain, pruned: bool = False) -> tuple[StakingContract, Node]:
    """SwarmStaking through its own `Node` provider."""
    node = Node(chain.deployment.rpc_url, pruned)
    return StakingContract(Web3(node), chain.staking.address), node


def test_a_node_without_the_state_at_the_indexed_head_is_read_at_latest_and_says_so(
    drift: Drift, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="drift"):
        report = drift.check(staking=through(drift.chain, pruned=True)[0])
    head = drift.chain.w3.eth.block_number
    assert report.findings == [] and report.read_at == f"latest ({head})"
    assert report.fallback is not None and "state is pruned" in report.fallback
    lines = [r for r in caplog.records if r.name == "drift"]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING
    assert "pruned" in lines[0].fallback and lines[0].findings == 0  # type: ignore[attr-defined]


def test_an_indexed_head_reorged_out_is_skipped_and_leaves_the_findings(drift: Drift) -> None:
    a = drift.chain.providers[0]
    gpus = drift.provider(a).gpus
    drift.set(t.providers, t.providers.c.address == a, gpus=gpus + 1)
    assert pairs(drift.check()) == {(a, "gpus")}
    drift.set(t.meta, t.meta.c.key == "checkpoint_hash", value="0x" + os.urandom(32).hex())
    report = drift.check()
    assert report.skipped is not None and "no longer canonical" in report.skipped
    assert drift.rows() == {(a, "gpus", str(gpus + 1), str(gpus))}


def test_calls_go_out_in_batches(drift: Drift) -> None:
    c = drift.chain
    propose(c, c.providers[0])
    propose(c, c.providers[0])
    drift.index()
    staking, node = through(c)
    report = drift.check(staking=staking)
    assert report.findings == [] and node.batches == [len(c.providers) + 2]
    node.batches.clear()
    drift.check(staking=staking, batch=4)
    assert node.batches == [4, 4, 1]


def test_the_scheduled_entry_records_its_run_and_uses_the_worker_context(drift: Drift) -> None:
    a = drift.chain.providers[2]
    drift.set(t.providers, t.providers.c.address == a, tombstoned=True)
    context = jobs.JobsContext(engine=drift.engine, staking=drift.chain.staking, notify=drift.notify)
    assert jobs.scheduled_jobs(context)["drift_check"]() is True
    with drift.engine.connect() as conn:
        run = conn.execute(select(t.job_runs).where(t.job_runs.c.name == "drift_check")).one()
    assert run.runs == 1 and run.failures == 0 and run.last_status == "ok"
    assert "1 findings (1 new, 0 resolved)" in run.last_result
    assert drift.events[0][1]["providers"] == {a: ["tombstoned"]}
    assert drift.client.get("/readyz").status_code == 503
