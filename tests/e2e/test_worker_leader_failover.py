"""Failover of whole processes (an API, an indexer and two workers on one PostgreSQL database,
verdicts arriving): a SIGKILLed leader is replaced at once (its lock frees with its session), a
hung (SIGSTOPped) one once its lease has expired (the standby ends its sessions), and when it wakes
it sends nothing. Afterwards every verdict has exactly its decided actions on chain, no transaction
twice, no nonce gap."""

from __future__ import annotations

import calendar
import json
import os
import random
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from staking.db import schema as t
from staking.db.engine import make_engine
from staking.devnet.accounts import SERVICE, devnet_account
from tests.conftest import require_pg
from tests.support.leadership import LEASE, lease_row, wait_for

pytestmark = pytest.mark.e2e


VERDICTS = 60


@pytest.fixture
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A chain per test: slashes one run proposed mature (devnet veto window: 120 s) and are
    executed by the next run's worker, which would race the next run's nonce audit."""
    from staking.devnet.harness import local_deployment

    require_pg()
    with local_deployment(tmp_path_factory.mktemp("chain"), extra_providers=12) as deployment:
        yield deployment


class Cluster:
    """An API, an indexer and two workers as `swarm-staking serve --role …` processes."""

    def __init__(self, net: Any, workdir: Path, url: str) -> None:
        from staking.devnet.harness import ServiceProcess, without_incidents

        env = {"SWARM_WORKER_LEASE_SECONDS": str(LEASE), "SWARM_LOG_LEVEL": "INFO"}
        env |= without_incidents(workdir)  # one detector over 19 providers would open an incident
        self.url = url
        self.engine = make_engine(url)

        def process(role: str, name: str) -> ServiceProcess:
            (workdir / name).mkdir()
            return ServiceProcess(net, workdir / name, url, role=role, extra_env=env)

        self.api = process("api", "api")
        self.indexer = process("indexer", "indexer")
        self.workers = [process("worker", "worker-1"), process("worker", "worker-2")]
        self.all = [self.api, self.indexer, *self.workers]

    def start(self) -> None:
        for p in self.all:
            p.start()

    def stop(self) -> None:
        for p in self.all:
            if p.process is not None and p.process.poll() is None:
                os.kill(p.process.pid, signal.SIGCONT)  # a stopped process cannot handle SIGTERM
            t0 = time.monotonic()
            p.stop()
            print(f"stopped {p.role} in {time.monotonic() - t0:.1f}s")
        self.engine.dispose()

    def leader(self) -> tuple[Any, Any]:
        """(the worker process holding the lease, the other), from the lease row's holder."""
        lease = lease_row(self.engine)
        assert lease is not None
        pid = int(lease.holder.split(":")[1])
        by_pid = {w.process.pid: w for w in self.workers if w.process is not None}
        leader = by_pid[pid]
        return leader, next(w for w in self.workers if w is not leader)

    def wait_leader(self, timeout: float = 30) -> None:
        def elected() -> bool:
            lease = lease_row(self.engine)
            return lease is not None and any(
                w.process is not None and f":{w.process.pid}:" in lease.holder for w in self.workers
            )

        wait_for("a worker leads", elected, timeout, every=0.1)

    def wait_sending(self, timeout: float = 60) -> None:
        """Until the leader has transactions in flight: a fault then lands mid-burst."""

        def sending() -> bool:
            with self.engine.connect() as conn:
                return bool(
                    conn.execute(
                        select(func.count())
                        .select_from(t.tx_intents)
                        .where(t.tx_intents.c.state != "planned")
                    ).scalar_one()
                )

        wait_for("the leader sends", sending, timeout, every=0.05)

    def wait_takeover(self, old_term: int, standby: Any, timeout: float) -> float:
        """Seconds until the lease row names `standby` in a later term."""
        pid = standby.process.pid

        def taken() -> bool:
            lease = lease_row(self.engine)
            return lease.term > old_term and f":{pid}:" in lease.holder

        return wait_for("the standby takes over", taken, timeout, every=0.02)


def log_lines(process: Any) -> list[dict[str, Any]]:
    out = []
    for line in process.log_path.read_text(errors="replace").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def log_time(line: dict[str, Any]) -> float:
    """Unix time of a JSON log line ("ts": "2026-11-23T09:00:00.123Z")."""
    return (
        calendar.timegm(time.strptime(line["ts"][:19], "%Y-%m-%dT%H:%M:%S")) + int(line["ts"][20:23]) / 1000
    )


def audit(
    net: Any, cluster: Cluster, burst: Any, bodies: list[dict[str, Any]], first: int, nonce: int
) -> None:
    from faults.invariants import check_actions, check_intents, wait_verdicts_settled

    ids = [b["id"] for b in bodies]
    t0 = time.monotonic()
    settled = wait_verdicts_settled([cluster.api.base_url], ids, timeout=180)
    print(f"settled in {time.monotonic() - t0:.1f}s")
    time.sleep(2.5)  # two more blocks: every sent transaction is mined
    t0 = time.monotonic()
    result = check_actions(
        net.node.w3,
        net.staking,
        devnet_account(SERVICE).address,
        bodies,
        burst.accepted,
        settled,
        first,
        nonce,
    )
    violations = list(burst.refused) + result.violations + check_intents(cluster.engine)
    print(f"checked in {time.monotonic() - t0:.1f}s")
    assert violations == [], "\n".join(violations[:40])
    assert result.actions.get("jail:confirmed", 0) > 0  # the burst did reach the chain


def start_burst(net: Any, cluster: Cluster, label: str) -> tuple[Any, list[dict[str, Any]], threading.Thread]:
    from faults.burst import Burst, make_bodies

    bodies = make_bodies(net, random.Random(label), VERDICTS, label)
    burst = Burst(cluster.api.base_url, bodies, pace=0.1)
    poster = threading.Thread(target=burst.run, daemon=True)
    poster.start()
    return burst, bodies, poster


@pytest.mark.e2e
def test_a_killed_leader_is_replaced_by_the_standby_within_the_lease(
    net: Any, tmp_path: Path, pg_url: str
) -> None:
    cluster = Cluster(net, tmp_path, pg_url)
    first = net.node.w3.eth.block_number + 1
    nonce = net.node.w3.eth.get_transaction_count(devnet_account(SERVICE).address, "latest")
    try:
        cluster.start()
        cluster.wait_leader()
        leader, standby = cluster.leader()
        burst, bodies, poster = start_burst(net, cluster, f"sigkill-{uuid.uuid4().hex[:6]}")
        cluster.wait_sending()
        old = lease_row(cluster.engine)
        killed_at = time.time()
        leader.kill()  # SIGKILL mid-burst: its session, and with it the advisory lock, is gone
        took = cluster.wait_takeover(old.term, standby, timeout=LEASE + 5)
        logged = next(
            line for line in log_lines(standby) if line["msg"] == f"worker leader: term {old.term + 1}"
        )
        logged_after = log_time(logged) - killed_at
        print(
            f"\nSIGKILL -> new term in the lease row: {took:.2f}s; in the standby's log: {logged_after:.2f}s"
        )
        assert took < LEASE, f"takeover took {took:.2f}s, more than the {LEASE}s lease"
        leader.start()  # back as a standby
        poster.join()
        audit(net, cluster, burst, bodies, first, nonce)
        assert lease_row(cluster.engine).holder.split(":")[1] == str(standby.process.pid)
    finally:
        cluster.stop()


@pytest.mark.e2e
def test_a_hung_leader_is_deposed_once_its_lease_expires_and_sends_nothing_when_it_wakes(
    net: Any, tmp_path: Path, pg_url: str
) -> None:
    cluster = Cluster(net, tmp_path, pg_url)
    first = net.node.w3.eth.block_number + 1
    nonce = net.node.w3.eth.get_transaction_count(devnet_account(SERVICE).address, "latest")
    try:
        cluster.start()
        cluster.wait_leader()
        leader, standby = cluster.leader()
        burst, bodies, poster = start_burst(net, cluster, f"sigstop-{uuid.uuid4().hex[:6]}")
        cluster.wait_sending()
        old = lease_row(cluster.engine)
        assert leader.process is not None
        os.kill(leader.process.pid, signal.SIGSTOP)  # hung: its sessions (and lock) stay open
        took = cluster.wait_takeover(old.term, standby, timeout=LEASE + 6)
        print(f"\nSIGSTOP -> new term in the lease row: {took:.2f}s (lease {LEASE}s)")
        # Not before the lease the leader last renewed could have run out (it renews every
        # LEASE/3), and not much after it expired (one standby poll, ending the sessions).
        assert LEASE * 2 / 3 - 0.5 <= took <= LEASE + 2.5
        deposed = [line for line in log_lines(standby) if "lease expired" in line["msg"]]
        assert deposed and deposed[0]["holder"] == old.holder
        os.kill(leader.process.pid, signal.SIGCONT)  # wakes up believing it leads
        wait_for(
            "the woken leader steps down",
            lambda: any("stepped down" in line["msg"] for line in log_lines(leader)),
            timeout=10,
            every=0.1,
        )
        poster.join()
        audit(net, cluster, burst, bodies, first, nonce)
        assert leader.process.poll() is None  # stood by again rather than exiting
        lease = lease_row(cluster.engine)
        assert lease.holder.split(":")[1] == str(standby.process.pid) and lease.term == old.term + 1
    finally:
        cluster.stop()
