"""`deploy/grafana/` against a live service (SPEC section 10): a real Prometheus server (Debian's
`prometheus` package, installed by `.ci/run`) scrapes a real `serve --role all` on Anvil, after a
verdict jailed a provider, and every query of every dashboard panel returns data through
Prometheus's HTTP API."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from staking.devnet.harness import ServiceProcess, local_deployment
from staking.devnet.node import free_port
from tests.support.live_service import post_breach

pytestmark = pytest.mark.e2e

DASHBOARDS = Path(__file__).resolve().parents[2] / "deploy" / "grafana"


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, expr) of every target of every panel."""
    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            out += [(path.name, panel["title"], t["expr"]) for t in panel["targets"]]
    return out


def until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout} s")


def query(base: str, expr: str) -> list[Any]:
    r = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=10)
    body = r.json()
    assert r.status_code == 200 and body["status"] == "success", (expr, body)
    return list(body["data"]["result"])


def test_every_dashboard_panel_returns_data_from_a_live_service(tmp_path: Path) -> None:
    binary = shutil.which("prometheus")
    assert binary, "the prometheus server is missing: apt-get install prometheus (.ci/run does)"
    queries = panel_queries()
    assert len(queries) >= 12
    with local_deployment(tmp_path, block_time=0) as net:
        service = ServiceProcess(net, tmp_path, f"sqlite:///{tmp_path}/svc.db")
        service.upgrade_db()
        service.start()
        port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            f"  - job_name: swarm\n    static_configs: [{{targets: ['127.0.0.1:{service.port}']}}]\n"
        )
        log = open(tmp_path / "prometheus.log", "wb")  # noqa: SIM115 - closed below
        prometheus = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            # A breach verdict: the service jails the provider, so the isolation panels have data.
            post_breach(net, service.base_url, net.providers[0], "dashboards")
            until(lambda: net.staking.is_jailed(net.providers[0]), 60, "the jail")
            base = f"http://127.0.0.1:{port}"

            def scraped() -> bool:
                try:
                    up = query(base, 'up{job="swarm"}')
                    jobs = query(base, "swarm_job_runs_total")
                    jailed = query(base, 'swarm_isolations_total{outcome="on_time"} > 0')
                    return bool(up and up[0]["value"][1] == "1" and jobs and jailed)
                except httpx.HTTPError:
                    return False

            until(scraped, 90, "Prometheus scraping the service, a job run and the jail confirmed")
            time.sleep(3)  # a few more scrapes, for the rate() panels
            empty = [(f, title, expr) for f, title, expr in queries if not query(base, expr)]
            assert empty == [], f"panels without data: {empty}"
        finally:
            prometheus.terminate()
            try:
                prometheus.wait(timeout=20)
            except subprocess.TimeoutExpired:
                prometheus.kill()
            log.close()
            service.stop()
