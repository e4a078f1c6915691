"""`make run` and `make demo` as a newcomer runs them: the product comes up with one command and
the narrated scenario runs against it to the end."""

from __future__ import annotations

import os
import re
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
        for step in (
            "security breach",
            "vetoes",
            "executes it",
            "reinstates",
            "status probation",
            "opened:",
            "active again",
        ):
            assert step in demo.stdout, demo.stdout[-4000:]
        assert_decisions_are_worded(demo.stdout)
        assert_a_reward_epoch_was_published(demo.stdout)
        again = subprocess.run(
            [sys.executable, "-m", "staking.devnet.demo", "--api", f"http://127.0.0.1:{api_port}",
             "--deployment", str(deployment)],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        # A second run meets the first one's strikes and jails: it says so before doing anything.
        assert again.returncode == 1 and "already run the demo" in again.stdout, again.stdout[-2000:]
        assert "POST /v1/verdicts" not in again.stdout
        assert_the_demo_trail_verifies(env, deployment, tmp_path, f"http://127.0.0.1:{chain_port}")
    finally:
        run.send_signal(signal.SIGINT)
        try:
            run.wait(timeout=30)
        except subprocess.TimeoutExpired:
            run.kill()
        log.close()
    assert run.returncode == 0, (tmp_path / "run.log").read_text()[-3000:]
    assert "stopping the service and the devnet" in (tmp_path / "run.log").read_text()


def assert_the_demo_trail_verifies(env: dict[str, str], deployment: Path, tmp_path: Path, rpc: str) -> None:
    """The demo's evidence trail (SPEC section 11), exported and checked against its chain."""
    cli = [str(Path(sys.executable).parent / "swarm-staking"), "audit"]
    env = dict(env, SWARM_DEPLOYMENT=str(deployment))
    trail = tmp_path / "demo-trail.jsonl"
    export = subprocess.run(
        [*cli, "export", "--output", str(trail)], env=env, capture_output=True, text=True, timeout=60
    )
    assert export.returncode == 0, export.stderr
    verify = subprocess.run(
        [*cli, "verify", str(trail), "--rpc", rpc], env=env, capture_output=True, text=True, timeout=120
    )
    assert verify.returncode == 0, verify.stderr
    assert "against the node" in verify.stdout and " 0 transactions" not in verify.stdout, verify.stdout


def assert_a_reward_epoch_was_published(out: str) -> None:
    """The last steps: reports filed, the epoch published on chain by the rewards job with a root,
    eligible and ineligible providers explained from the API, and a proof checked against the root."""
    tail = out[out.find("This reward epoch") :] if "This reward epoch" in out else ""
    assert re.search(r"POST /v1/performance: 7 reports for epoch \d+, .* → 202", tail), out[-4000:]
    published = re.search(
        r"epoch (\d+) published on chain: root (0x[0-9a-f]{64}), total weight [\d,.]+ .*, "
        r"(\d+) of 7 providers eligible",
        tail,
    )
    assert published, out[-4000:]
    assert published[2] != "0x" + "00" * 32 and int(published[3]) >= 1, published[0]
    assert re.search(r"publishEligibility\(\d+, .*\): tx 0x[0-9a-f]{10}… in block \d+", tail), out[-4000:]
    assert "GET /v1/epochs/" + published[1] + ": published (the root is on chain)" in tail, out[-4000:]
    assert re.search(r"flaky +not eligible: uptime 91\.20 % below", tail), out[-4000:]
    assert re.search(r"not eligible: .*jailed during the epoch", tail), out[-4000:]
    assert re.search(r"eligible, weight [\d,.]+ \(", tail), out[-4000:]
    assert "$ swarm-staking rewards show " + published[1] in tail, out[-4000:]
    assert "→ 409 Epoch already computed" in tail, out[-4000:]
    assert "proof verified against the root on chain" in tail, out[-4000:]
    assert "simulated from the provider passes" in tail, out[-4000:]


def assert_decisions_are_worded(out: str) -> None:
    """Each decision says its jail and recovery path in words: an isolation is a jail until
    recovery, a warning has no jail and no recovery path, a penalty's timed jail gives its length."""
    decisions = re.findall(r"decision: (.*) → verdict \w+", out)
    assert len(decisions) == 7, out[-4000:]
    until_recovery = "level penalty, slash 500 bps, jail until recovery, recovery path security_review"
    assert decisions[0] == until_recovery, decisions  # the security breach: isolated
    assert decisions[1] == until_recovery, decisions  # the system attack: isolated
    assert decisions[2] == "level warning, slash 0 bps, no jail, recovery path none", decisions
    assert decisions[4] == "level penalty, slash 500 bps, jail 86400 s, recovery path service_improvement"
    assert decisions[6] == "level none, slash 0 bps, no jail, recovery path none", decisions
    for wrong in ("jail None", "jail 0 s", "recovery path None"):
        assert wrong not in out, out[-4000:]
