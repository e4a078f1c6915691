"""The alert rules of `deploy/prometheus/` (SPEC section 10) against Prometheus's own `promtool`
(Debian's `prometheus` package, installed by `.ci/run`), and the response metrics they read
(`staking/metrics_response.py`) against each database: every metric a rule names is served by
`GET /metrics`, and the isolation, outbox and cap figures count the rows they should."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from staking.db import schema as t
from staking.worker import jobs
from tests.support.scrape import labels, scraping
from tests.support.verdict_rows import add_verdict, verdict_id

pytestmark = pytest.mark.integration

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def promtool(*args: str) -> str:
    binary = shutil.which("promtool")
    assert binary, "promtool is missing: apt-get install prometheus (.ci/run does)"
    done = subprocess.run([binary, *args], cwd=RULES, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_alert_rules_are_valid_and_their_unit_tests_pass() -> None:
    assert "SUCCESS: 10 rules found" in promtool("check", "rules", "alerts.yml")
    assert "SUCCESS" in promtool("test", "rules", "alerts_test.yml")


def jail(
    engine: Engine, n: int, state: str, received_ms: int, deadline_ms: int, confirmed_ms: int | None
) -> None:
    vid = add_verdict(engine, n, investigation=False)
    with engine.begin() as conn:
        conn.execute(t.verdicts.update().where(t.verdicts.c.id == vid).values(received_ms=received_ms))
        conn.execute(
            t.actions.insert().values(
                verdict_id=verdict_id(n),
                seq=0,
                kind="jail",
                state=state,
                deadline_ms=deadline_ms,
                confirmed_ms=confirmed_ms,
            )
        )


def test_isolations_outbox_and_jail_cap_use_count_their_rows(db_url: str) -> None:
    now = int(time.time() * 1000)
    with scraping(db_url) as scrape:
        e = scrape.engine
        jail(e, 1, "confirmed", now - 100_000, now - 40_000, now - 90_000)  # 10 s, on time
        jail(e, 2, "confirmed", now - 100_000, now - 40_000, now - 30_000)  # 70 s, late
        jail(e, 3, "submitted", now - 100_000, now - 40_000, None)  # past its deadline: stuck
        jail(e, 4, "pending", now - 1_000, now + 59_000, None)  # in time still
        with e.begin() as conn:
            for i, (state, age_ms) in enumerate((("pending", 120_000), ("pending", 5_000), ("delivered", 0))):
                conn.execute(
                    t.webhook_outbox.insert().values(
                        delivery=f"d{i}", url="http://127.0.0.1:9/h", kind="jailed", body="{}", state=state,
                        attempts=0, next_attempt_ms=now, created_ms=now - age_ms,
                    )
                )  # fmt: skip
            conn.execute(t.params.insert().values(name="cap_window", value="3600", updated_block=1))
            conn.execute(t.meta.insert().values(key="checkpoint_time", value="10000"))
            for i, block_time in enumerate(
                (6_000, 6_401, 9_000, 10_000, 10_001)
            ):  # the window: (6400, 10000]
                conn.execute(
                    t.events.insert().values(
                        block_number=i + 1, block_hash=f"0x{i + 1:064x}", log_index=0, tx_hash=f"0x{i:064x}",
                        block_time=block_time, name="Jailed", args="{}",
                    )
                )  # fmt: skip
        s = scrape()
    assert s[("swarm_isolation_seconds_count", labels())] == 2
    assert s[("swarm_isolation_seconds_sum", labels())] == 80
    assert s[("swarm_isolation_seconds_bucket", labels(le="10.0"))] == 1
    assert s[("swarm_isolation_seconds_bucket", labels(le="60.0"))] == 1
    assert s[("swarm_isolation_seconds_bucket", labels(le="120.0"))] == 2
    assert s[("swarm_isolations_total", labels(outcome="on_time"))] == 1
    assert s[("swarm_isolations_total", labels(outcome="late"))] == 1
    assert s[("swarm_isolations_overdue", labels())] == 1
    assert s[("swarm_webhook_outbox", labels(state="pending"))] == 2
    assert s[("swarm_webhook_outbox", labels(state="delivered"))] == 1
    assert s[("swarm_webhook_outbox", labels(state="failed"))] == 0
    assert 120 <= s[("swarm_webhook_oldest_pending_age_seconds", labels())] < 180
    assert s[("swarm_cap_jails_used", labels())] == 3


def test_every_metric_a_rule_reads_is_served(db_url: str) -> None:
    # Family names: a counter's samples add `_total`, a histogram's `_bucket`, `_count`, `_sum`.
    text = (RULES / "alerts.yml").read_text()
    named = {re.sub(r"_total$", "", n) for n in re.findall(r"\bswarm_[a-z_]+", text)}
    with scraping(db_url) as scrape:
        with scrape.engine.begin() as conn:  # what the indexer writes once it has seen the chain
            caps = {"cap_window": "3600", "jail_cap": "10", "slash_cap_bps": "500", "max_slash_bps": "5000"}
            for name, value in caps.items():
                conn.execute(t.params.insert().values(name=name, value=value, updated_block=1))
            for key, value in (("checkpoint_time", "10000"), ("checkpoint_block", "5"), ("head_block", "7")):
                conn.execute(t.meta.insert().values(key=key, value=value))
        assert jobs.run_job(scrape.engine, "drift_check", lambda: None)  # job series exist once a job ran
        served = {family.name for family in text_string_to_metric_families(scrape.text())}
    assert named - served == set(), f"rules read metrics /metrics does not serve: {sorted(named - served)}"
