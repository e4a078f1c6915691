"""`GET /metrics`: scheduled job runs (recorded in the database by the worker) and the service's
verdicts, actions, transaction intents and indexer progress, in Prometheus text format 0.0.4.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from staking.db import schema as t
from staking.worker import jobs
from tests.support.scrape import Scrape, labels, scraping
from tests.support.verdict_rows import PROVIDER, add_verdict

pytestmark = pytest.mark.integration


@pytest.fixture
def scrape(db_url: str) -> Iterator[Scrape]:
    with scraping(db_url) as s:
        yield s


class Clock:
    def __init__(self, *times: float) -> None:
        self.times = list(times)

    def __call__(self) -> float:
        return self.times.pop(0)


def test_job_runs_with_success_and_failure_show_in_metrics(
    scrape: Scrape, caplog: pytest.LogCaptureFixture
) -> None:
    def boom() -> str:
        raise RuntimeError("node unreachable")

    caplog.set_level(logging.INFO, logger="jobs")
    assert jobs.run_job(scrape.engine, "tick", lambda: "2 open intents", clock=Clock(100.0, 100.25))
    assert not jobs.run_job(scrape.engine, "tick", boom, clock=Clock(200.0, 201.5))
    assert jobs.run_job(scrape.engine, "sweep", lambda: None, clock=Clock(300.0, 300.004))

    m = scrape()
    tick, sweep = labels(job="tick"), labels(job="sweep")
    assert m["swarm_job_runs_total", tick] == 2 and m["swarm_job_failures_total", tick] == 1
    assert m["swarm_job_runs_total", sweep] == 1 and m["swarm_job_failures_total", sweep] == 0
    assert m["swarm_job_last_duration_seconds", tick] == pytest.approx(1.5)
    assert m["swarm_job_last_duration_seconds", sweep] == pytest.approx(0.004)
    # The failed run does not move the last success: alerts on staleness see it.
    assert m["swarm_job_last_success_timestamp_seconds", tick] == pytest.approx(100.25)
    assert m["swarm_job_last_success_timestamp_seconds", sweep] == pytest.approx(300.004)
    assert m["swarm_job_last_run_failed", tick] == 1 and m["swarm_job_last_run_failed", sweep] == 0

    with scrape.engine.connect() as conn:
        row = conn.execute(select(t.job_runs).where(t.job_runs.c.name == "tick")).one()
    assert (row.last_status, row.last_result) == ("failed", "RuntimeError: node unreachable")
    assert (row.last_started_ms, row.last_finished_ms, row.last_duration_ms) == (200_000, 201_500, 1500)

    # One log line per run, with its outcome.
    records = [r for r in caplog.records if r.name == "jobs"]
    assert [(r.levelname, r.job, r.status, r.result) for r in records] == [  # type: ignore[attr-defined]
        ("INFO", "tick", "ok", "2 open intents"),
        ("ERROR", "tick", "failed", "RuntimeError: node unreachable"),
        ("INFO", "sweep", "ok", None),
    ]
    assert records[1].exc_info is not None


def test_the_scheduled_jobs_are_recorded(scrape: Scrape) -> None:
    """The scheduler's entry points go through `run_job`: a failing and a working job both count."""
    txm = SimpleNamespace(tick=lambda: None, engine=scrape.engine, signer=PROVIDER)
    context = jobs.JobsContext(engine=scrape.engine, staking=object(), txm=txm)  # type: ignore[arg-type]
    entries = jobs.scheduled_jobs(context)
    entries["execute_matured_slashes"]()  # `object()` has no w3: the run fails, the scheduler thread does not
    entries["resend_stuck"]()
    entries["resend_stuck"]()

    m = scrape()
    execute, resend = labels(job="execute_matured_slashes"), labels(job="resend_stuck")
    assert m["swarm_job_runs_total", execute] == 1 and m["swarm_job_failures_total", execute] == 1
    assert ("swarm_job_last_success_timestamp_seconds", execute) not in m
    assert m["swarm_job_runs_total", resend] == 2 and m["swarm_job_failures_total", resend] == 0
    with scrape.engine.connect() as conn:
        results = dict(conn.execute(select(t.job_runs.c.name, t.job_runs.c.last_result)).all())
    assert results["resend_stuck"] == "0 open intents"
    assert results["execute_matured_slashes"].startswith("AttributeError")


def test_verdict_action_intent_and_investigation_gauges_reflect_rows(scrape: Scrape) -> None:
    m = scrape()
    for status in ("received", "executing", "done", "rejected", "failed"):
        assert m["swarm_verdicts", labels(status=status)] == 0  # every known series, even empty
    assert m["swarm_tx_intents", labels(state="sent")] == 0

    done = [add_verdict(scrape.engine, n) for n in (1, 2)]
    add_verdict(scrape.engine, 3, status="executing", investigation=False)
    with scrape.engine.begin() as conn:
        conn.execute(
            t.actions.insert(),
            [
                {"verdict_id": done[0], "seq": 0, "kind": "jail", "state": "confirmed", "deadline_ms": 1},
                {
                    "verdict_id": done[0],
                    "seq": 1,
                    "kind": "propose_slash",
                    "state": "failed",
                    "deadline_ms": 1,
                },
                {"verdict_id": done[1], "seq": 0, "kind": "jail", "state": "confirmed", "deadline_ms": 1},
            ],
        )
        conn.execute(
            t.tx_intents.insert(),
            [
                {
                    "idempotency_key": f"jail:{i}",
                    "signer": PROVIDER,
                    "nonce": i,
                    "to_address": PROVIDER,
                    "data": "0x",
                    "gas": 21000,
                    "state": state,
                    "attempts": 1,
                    "created_ms": 1,
                }
                for i, state in enumerate(("confirmed", "confirmed", "sent"))
            ],
        )
        conn.execute(
            t.investigations.update()
            .where(t.investigations.c.verdict_id == done[0])
            .values(status="resolved")
        )
        conn.execute(
            t.meta.insert(),
            [
                {"key": "head_block", "value": "120"},
                {"key": "checkpoint_block", "value": "118"},
                {"key": "checkpoint_time", "value": "1795000000"},
            ],
        )

    m = scrape()
    assert m["swarm_verdicts", labels(status="done")] == 2
    assert m["swarm_verdicts", labels(status="executing")] == 1
    assert m["swarm_verdicts", labels(status="failed")] == 0
    assert m["swarm_actions", labels(kind="jail", state="confirmed")] == 2
    assert m["swarm_actions", labels(kind="propose_slash", state="failed")] == 1
    assert m["swarm_tx_intents", labels(state="confirmed")] == 2
    assert m["swarm_tx_intents", labels(state="sent")] == 1
    assert m["swarm_tx_intents", labels(state="planned")] == 0
    assert m["swarm_investigations", labels(status="open")] == 1
    assert m["swarm_investigations", labels(status="resolved")] == 1
    assert m["swarm_indexer_head_block", labels()] == 120
    assert m["swarm_indexer_last_indexed_block", labels()] == 118
    assert m["swarm_indexer_last_indexed_block_timestamp_seconds", labels()] == 1_795_000_000


def test_metrics_is_documented_as_text(scrape: Scrape) -> None:
    spec = scrape.client.get("/openapi.json").json()
    content = spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert any(kind.startswith("text/plain") for kind in content)
    assert "application/json" not in content
