"""`make run` and `make demo` as a newcomer runs them: the product comes up with one command and
the narrated scenario runs against it to the end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from staking.devnet.node import free_port

pytestmark = pytest.mark.e2e


def test_make_run_serves_the_product_and_the_demo_runs_against_it(tmp_path: Path) -> None:
    chain_port, api_port = free_port(), free_port()
    deployment = tmp_path / "localhost.json"
    env = dict(os.environ, SWARM_DATABASE_URL=f"sqlite:///{tmp_path}/run.db", PYTHONUNBUFFERED="1")
    log = open(tmp_path / "run.log", "w")  # noqa: SIM115 - closed below
    run = subprocess.Popen(
        [sys.executable, "-m", "staking.devnet.run", "--port", str(chain_port), "--api-port", str(api_port),
         "--deployment", str(deployment)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while "ready:" not in (tmp_path / "run.log").read_text():
            assert run.poll() is None and time.monotonic() < deadline, (tmp_path / "run.log").read_text()
            time.sleep(0.3)
        text = (tmp_path / "run.log").read_text()
        assert f"http://127.0.0.1:{api_port}" in text and "make demo" in text
        assert httpx.get(f"http://127.0.0.1:{api_port}/healthz").status_code == 200
        demo = subprocess.run(
            [sys.executable, "-m", "staking.devnet.demo", "--api", f"http://127.0.0.1:{api_port}",
             "--deployment", str(deployment)],
            env=env, capture_output=True, text=True, timeout=240,
        )  # fmt: skip
        assert demo.returncode == 0, demo.stdout[-4000:] + demo.stderr[-2000:]
        for step in ("security breach", "vetoes", "executes it", "reinstates", "status probation"):
            assert step in demo.stdout, demo.stdout[-4000:]
    finally:
        run.send_signal(signal.SIGINT)
        try:
            run.wait(timeout=30)
        except subprocess.TimeoutExpired:
            run.kill()
        log.close()
    assert run.returncode == 0, (tmp_path / "run.log").read_text()[-3000:]
    assert "stopping the service and the devnet" in (tmp_path / "run.log").read_text()
