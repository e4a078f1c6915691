"""`make chaos`: a bounded fault-injection suite against the scaled-out service on PostgreSQL.

Each trial runs, on loopback only:

    1 Anvil (1-second blocks, loaded from a deployment snapshot made once per run)
    1 `serve --role indexer`, 1 or 2 `serve --role api`, 2 `serve --role worker`
    one fresh database (from a migrated template) in a private PostgreSQL cluster

under a process supervisor that restarts any role process that exits (a standby worker that
gives up waiting for the writer lock, a process killed by a fault). Detectors post a paced burst
of signed verdicts to the API replicas (round robin, failing over, retrying until 200/202) while
1-3 faults, drawn by the trial's seeded RNG, are injected:

    a  kill        SIGKILL a role process (api, indexer, worker leader, worker standby); the
                   supervisor restarts it after a short random delay
    b  anvil_stop  the node stops answering (SIGSTOP ... SIGCONT): --anvil-stop-seconds (30) in a
                   share of the draws (--long-stop-share), 2-6 s in the others
    c  pg_restart  the database server stopped (fast or immediate) and started again
    d  reorg       `anvil_reorg` of depth 1-5 while proposeSlash transactions are pending or just
                   mined: the service has to send them again, and the indexer to roll back
    e  webhook     the webhook receiver hangs on half of the deliveries, past the notifier's timeout

Then it waits (bounded) until nothing is in flight and the indexer has caught up, and checks
(`faults.invariants`): every verdict accepted and `done` with exactly its decided on-chain
actions; no reverted, duplicate or voided transaction; no nonce gap; every transaction intent
confirmed; the SQL projection equal to the contract (the drift check); webhook deliveries made
or being retried, with valid signatures; and, in trials whose only fault is the webhook receiver,
every isolation confirmed within its response deadline.

    .venv/bin/python -m faults.chaos [--trials 50] [--verdicts 50] [--seed 1] [--faults a,b,c,d,e]
        [--anvil-stop-seconds 30] [--time-limit 2400]

Progress on stderr, a JSON summary on stdout; exit status 1 on any violation. Trial i uses seed
`seed + i`; `--seed S --trials 1` replays one trial's fault plan.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address
from sqlalchemy import Engine, inspect, select, text
from web3 import Web3

from faults.burst import Burst, make_bodies
from faults.forkserver import ForkServer
from faults.invariants import (
    call_key,
    check_actions,
    check_intents,
    check_projection,
    check_webhooks,
    indexed_head,
    normalized_tx,
    open_work,
    signer_transactions,
    wait_verdicts_settled,
)
from faults.pg_cluster import PgCluster
from faults.supervisor import Exit, RoleProcess, Supervisor, wait_http_ready
from faults.webhook_sink import WebhookSink
from staking.chain.connect import wait_for_rpc
from staking.chain.contracts import StakingContract
from staking.db import schema as t
from staking.db.engine import make_engine
from staking.deployment import Deployment
from staking.devnet.accounts import SERVICE, devnet_account
from staking.devnet.harness import LocalDeployment, without_incidents
from staking.devnet.node import NODE_BIN, LocalNode, free_port
from staking.devnet.provision import provision_devnet, provision_extra_providers
from staking.domain.vocabulary import Address

KINDS = {"a": "kill", "b": "anvil_stop", "c": "pg_restart", "d": "reorg", "e": "webhook"}
KILL_TARGETS = ("api", "indexer", "worker_leader", "worker_standby")
PROVIDERS = 20  # the 7 demo providers + 13 more
BURST_SECONDS = 8.0  # a burst is paced over about this long
FAULT_WINDOW = 14.0  # faults start within this many seconds of the burst's start
WEBHOOK_SECRET = "chaos-webhook-secret"  # noqa: S105 - a throw-away receiver on loopback
NOTIFIER_TIMEOUT = 5.0  # staking.notify.webhooks.WebhookNotifier.timeout
LEASE_SECONDS = 5  # SWARM_WORKER_LEASE_SECONDS for the workers (leader/standby)


def say(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------- the node


def anvil_binary() -> list[str]:
    """The Anvil binary itself when the npm package ships it (signals then reach the node, not a
    launcher), else the npm launcher."""
    for found in sorted((NODE_BIN.parent / "@foundry-rs").glob("anvil-*/bin/anvil")):
        return [str(found)]
    return [str(NODE_BIN / "anvil")]


@dataclass
class Anvil:
    """An Anvil process in its own process group; SIGSTOP/SIGCONT go to the whole group."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    w3: Web3
    stopped: bool = False

    @classmethod
    def start(
        cls,
        workdir: Path,
        *,
        load_state: Path | None = None,
        dump_state: Path | None = None,
        block_time: int = 0,
    ) -> Anvil:
        port = free_port()
        argv = [*anvil_binary(), "--host", "127.0.0.1", "--port", str(port), "--chain-id", "31337"]
        argv += ["--accounts", "20", "--silent"]
        if load_state is not None:
            argv += ["--load-state", str(load_state)]
        if dump_state is not None:
            argv += ["--dump-state", str(dump_state)]
        if block_time:
            argv += ["--block-time", str(block_time)]
        log_path = workdir / f"anvil-{port}.log"
        env = dict(os.environ, PATH=f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            w3 = wait_for_rpc(f"http://127.0.0.1:{port}", timeout=60)
        except Exception:
            cls._signal_group(process, signal.SIGKILL)
            raise
        return cls(process, port, log_path, w3)

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @staticmethod
    def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)

    def pause(self) -> None:
        self._signal_group(self.process, signal.SIGSTOP)
        self.stopped = True

    def resume(self) -> None:
        self._signal_group(self.process, signal.SIGCONT)
        self.stopped = False

    def stop(self) -> None:
        """SIGCONT (a stopped node cannot exit), then SIGINT -> SIGTERM -> SIGKILL with waits;
        SIGINT lets `--dump-state` write its file."""
        self.resume()
        for sig, wait in ((signal.SIGINT, 15.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            if self.process.poll() is not None:
                break
            self._signal_group(self.process, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=wait)
        self._signal_group(self.process, signal.SIGKILL)  # anything left in the group

    def rpc(self, method: str, params: list[Any]) -> Any:
        """One JSON-RPC call (the node's own methods: anvil_reorg, txpool_content, …)."""
        response = self.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        if "error" in response:
            raise RuntimeError(f"{method}: {response['error']}")
        return response["result"]


# ------------------------------------------------------------------------------------- run set-up


@dataclass
class Snapshot:
    """The provisioned chain, saved once per run and loaded by every trial's node."""

    state: Path
    deployment: Deployment
    providers: list[Address]


def provision_snapshot(workroot: Path, providers: int = PROVIDERS) -> Snapshot:
    state = workroot / "chain-state.json"
    node = Anvil.start(workroot, dump_state=state)
    try:
        deployment = provision_devnet(node.w3, node.rpc_url)
        addresses = [Address(to_checksum_address(p)) for p in deployment.accounts.providers]
        extra = max(0, providers - len(addresses))
        if extra:
            addresses += provision_extra_providers(node.w3, deployment, extra)
    finally:
        node.stop()
    if not state.exists():
        raise RuntimeError(f"anvil did not write its state to {state}")
    return Snapshot(state, deployment, addresses[:providers])


def migrate_template(pg: PgCluster, name: str = "chaos_template") -> str:
    """A migrated database that each trial's database is copied from (CREATE DATABASE ... TEMPLATE)."""
    from staking.db.engine import upgrade

    url = pg.create_database(name)
    upgrade(url)
    return name


# ------------------------------------------------------------------------------------- one trial


def draw_faults(rng: random.Random, kinds: list[str]) -> list[tuple[float, str]]:
    """1-3 faults of `kinds`, each at a time (seconds after the burst starts) within the fault
    window; at most one node stop and one webhook fault per trial (they last the whole trial or
    long)."""
    plan: list[tuple[float, str]] = []
    for _ in range(rng.randint(1, 3)):
        once = ("anvil_stop", "webhook")
        choices = [k for k in kinds if not (k in once and any(k == p for _, p in plan))]
        if not choices:
            break
        plan.append((rng.uniform(0.5, FAULT_WINDOW), rng.choice(choices)))
    return sorted(plan)


@dataclass
class FaultRecord:
    kind: str
    at: float  # seconds after the burst started
    detail: str
    seconds: float = 0.0  # how long the fault lasted


@dataclass
class TrialResult:
    index: int
    seed: int
    apis: int
    verdicts: int
    seconds: float
    settle_seconds: float | None
    transactions: int
    faults: list[FaultRecord]
    kills_by_role: dict[str, int]
    takeovers: int  # worker leader terms after the first
    leader_moves: int  # of those, terms won by another process than the previous term's
    leaders: list[str]  # the worker terms, in order
    worker_overlap_seconds: float  # time two worker processes both believed they led
    exits: list[dict[str, Any]]  # unplanned process exits (code, reason)
    actions: dict[str, int]
    calls: dict[str, int]
    deadline_misses: int  # isolations confirmed after their response deadline
    jail_p95_seconds: float | None
    webhooks: dict[str, Any]
    burst: dict[str, int]
    violations: list[str] = field(default_factory=list)
    workdir: str | None = None
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase of the trial


class LeaderWatch:
    """Polls which worker process leads, to aim the "kill the leader / the standby" faults: the
    holder of the `leader_leases` row when the schema has one (its holder names the pid), else
    the holder of the worker's advisory lock (its session's application_name)."""

    def __init__(self, engine: Engine, workers: list[RoleProcess]) -> None:
        self.engine = engine
        self.workers = workers
        self.has_leases = inspect(engine).has_table("leader_leases")
        self.leader: RoleProcess | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leader-watch", daemon=True)

    def start(self) -> LeaderWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def standby(self) -> RoleProcess | None:
        leader = self.leader
        others = [w for w in self.workers if w is not leader and w.alive()]
        return others[0] if others else None

    def _current(self) -> RoleProcess | None:
        with self.engine.connect() as conn:
            if self.has_leases:
                row = conn.execute(
                    text("SELECT holder FROM leader_leases WHERE name = 'worker' AND expires_at > :now"),
                    {"now": int(time.time() * 1000)},
                ).first()
                pid = row.holder.split(":")[1] if row is not None and row.holder.count(":") >= 2 else ""
                return next(
                    (w for w in self.workers if w.process is not None and str(w.process.pid) == pid), None
                )
            names = [
                r.application_name
                for r in conn.execute(
                    text(
                        "SELECT a.application_name FROM pg_locks l "
                        "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
                        "AND l.granted AND a.application_name LIKE 'chaos-worker-%'"
                    )
                )
            ]
        return next((w for w in self.workers if w.incarnation in names), None)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            with contextlib.suppress(Exception):  # the database may be down: ask again
                self.leader = self._current()


@dataclass
class Term:
    """One worker process's time as the leader, from its log."""

    slot: str  # worker-a#2
    term: str  # the lease's term ("?" before leader leases existed)
    start: float
    end: float
    how_ended: str


def _log_time(record: dict[str, Any]) -> float:
    ts = str(record.get("ts", ""))
    try:
        base = time.mktime(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
        return base + float("0" + ts[19:23]) if ts[19:20] == "." else base
    except ValueError:
        return 0.0


def leader_terms(workers: list[RoleProcess], exits: list[Exit], end: float) -> list[Term]:
    """Every term any worker led during the trial, from the logs: elected at "worker leader: term
    N" ("worker started" with the plain writer lock), until it stood by again, stepped down, or
    its process exited (`exits`) — or the trial ended."""
    exited = {(e.name, e.incarnation): e.at for e in exits}
    terms: list[Term] = []
    for w in workers:
        for number, (started_at, lines) in sorted(w.incarnation_logs().items()):
            current: Term | None = None
            for line in lines:
                if not line.startswith("{"):
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                msg = str(record.get("msg", ""))
                if current is None and (msg.startswith("worker leader: term") or msg == "worker started"):
                    term = str(record.get("term", "?")) if msg != "worker started" else "?"
                    current = Term(
                        f"{w.name}#{number}", term, _log_time(record) or started_at, end, "running"
                    )
                    terms.append(current)
                elif current is not None and (
                    msg.startswith("standing by again") or msg.startswith("worker stepped down")
                ):
                    current.end, current.how_ended = _log_time(record), msg[:80]
                    current = None
            if current is not None and (w.name, number) in exited:
                current.end, current.how_ended = exited[(w.name, number)], "process exited"
    return sorted(terms, key=lambda t: t.start)


def overlap_seconds(terms: list[Term]) -> float:
    """How long two worker processes both believed they led (summed over pairs)."""
    total = 0.0
    for i, a in enumerate(terms):
        for b in terms[i + 1 :]:
            if a.slot.split("#")[0] != b.slot.split("#")[0]:
                total += max(0.0, min(a.end, b.end) - max(a.start, b.start))
    return total


@dataclass
class RunEnv:
    """What every trial of a run shares."""

    pg: PgCluster
    snapshot: Snapshot
    template: str  # the migrated database each trial's database is copied from
    sink: WebhookSink
    forkserver: ForkServer | None


@dataclass
class TrialEnv:
    """What a trial hook (see `run_trial(sabotage=…)`) may use."""

    net: LocalDeployment
    anvil: Anvil
    engine: Engine
    bodies: list[dict[str, Any]]
    burst: Burst


class Trial:
    def __init__(
        self,
        index: int,
        seed: int,
        opts: argparse.Namespace,
        env: RunEnv,
        workroot: Path,
        deadline: float,
    ) -> None:
        self.index, self.seed, self.opts = index, seed, opts
        self.snapshot, self.pg, self.template, self.sink = env.snapshot, env.pg, env.template, env.sink
        self.forkserver = env.forkserver
        self.rng = random.Random(seed)
        self.workdir = Path(tempfile.mkdtemp(prefix=f"trial-{index}-seed-{seed}-", dir=workroot))
        self.db_name = f"chaos_trial_{index}_{seed}"
        self.deadline = deadline  # monotonic: the run's time limit
        self.faults: list[FaultRecord] = []
        self.kills: Counter[str] = Counter()
        self.violations: list[str] = []
        self.burst_started = 0.0
        self.detected_block = 0
        self._evidence_txs: list[dict[str, Any]] = []  # the signer's canonical txs, for a failed trial
        self.phases: dict[str, float] = {}
        self._phase_at = time.monotonic()

    def _phase(self, name: str) -> None:
        now = time.monotonic()
        self.phases[name] = round(now - self._phase_at, 1)
        self._phase_at = now

    # ---- set-up
    def _env_for(self, deployment_path: Path, rpc_url: str) -> Callable[[RoleProcess], dict[str, str]]:
        policy = without_incidents(self.workdir)  # one detector over all 20 providers: an incident

        def env(p: RoleProcess) -> dict[str, str]:
            return dict(
                os.environ,
                SWARM_DEPLOYMENT=str(deployment_path),
                SWARM_RPC_URL=rpc_url,
                SWARM_DATABASE_URL=self.pg.url(self.db_name, application_name=p.incarnation),
                SWARM_LOG_JSON="true",
                SWARM_WEBHOOK_URLS=self.sink.url(f"t{self.index}"),
                SWARM_WEBHOOK_SECRET=WEBHOOK_SECRET,
                SWARM_WORKER_LEASE_SECONDS=str(LEASE_SECONDS),
                **policy,
            )

        return env

    def _plan(self) -> list[tuple[float, str]]:
        return draw_faults(self.rng, list(self.opts.faults))

    # ---- faults
    def _inject(self, kind: str, sup: Supervisor, watch: LeaderWatch, anvil: Anvil) -> None:
        at = round(time.monotonic() - self.burst_started, 1)
        began = time.monotonic()
        rng = self.rng
        if kind == "kill":
            target = rng.choice(KILL_TARGETS)
            delay = round(rng.uniform(0.2, 3.0), 1)
            victim: RoleProcess | None
            if target == "api":
                victim = rng.choice([p for p in sup.processes if p.role == "api"])
            elif target == "indexer":
                victim = sup.by_name("indexer")
            elif target == "worker_leader":
                victim = watch.leader
            else:
                victim = watch.standby()
            if victim is not None and sup.kill(victim, restart_after=delay):
                self.kills[target] += 1
                detail = f"SIGKILL {target} {victim.name} (#{victim.starts}), restart after {delay}s"
            else:
                detail = f"{target}: none running (no kill)"
        elif kind == "anvil_stop":
            long = rng.random() < self.opts.long_stop_share
            seconds = self.opts.anvil_stop_seconds if long else round(rng.uniform(2.0, 6.0), 1)
            anvil.pause()
            try:
                time.sleep(seconds)
            finally:
                anvil.resume()
            detail = f"{'long' if long else 'short'} SIGSTOP of {seconds}s"
        elif kind == "pg_restart":
            mode = rng.choice(("fast", "immediate"))
            down = round(rng.uniform(0.0, 3.0), 1)
            took = self.pg.restart(mode, down_seconds=down)
            detail = f"pg_ctl stop -m {mode}, {down}s down, start: unavailable {took:.1f}s"
        elif kind == "reorg":
            depth = rng.randint(1, 5)
            seen = self._wait_slash_in_flight(anvil, depth, timeout=10.0)
            # Anvil gives the replacement blocks the fork point's timestamp, and the chain's clock
            # stays that far behind afterwards: a fork point before the burst's verdicts were
            # detected would make them "from the future" for as long (minutes, back into the
            # snapshot's blocks). Real forks keep their slot times, so the fork point stays within
            # the trial.
            drawn, depth = depth, max(1, min(depth, anvil.w3.eth.block_number - self.detected_block))
            try:
                anvil.rpc("anvil_reorg", [depth, []])
                clamped = f" (drawn {drawn})" if depth != drawn else ""
                detail = f"anvil_reorg depth {depth}{clamped}, proposeSlash {seen}"
            except Exception as exc:
                detail = f"anvil_reorg depth {depth} failed: {exc}"
                self.violations.append(f"harness: {detail}")
        elif kind == "webhook":
            self.sink.hang_probability = 0.5
            detail = f"receiver hangs {self.sink.hang_seconds}s on half of the deliveries from now on"
        else:
            raise ValueError(kind)
        record = FaultRecord(kind, at, detail, round(time.monotonic() - began, 1))
        self.faults.append(record)
        say(f"  trial {self.index} +{at}s {kind}: {detail}")

    def _wait_slash_in_flight(self, anvil: Anvil, depth: int, timeout: float) -> str:
        """Until a proposeSlash of the service is in the pool or in the last `depth` blocks."""
        signer = devnet_account(SERVICE).address
        staking = StakingContract(anvil.w3, self.snapshot.deployment.contracts.SwarmStaking)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                pool = anvil.rpc("txpool_content", [])
                for sender, txs in pool.get("pending", {}).items():
                    if sender.lower() != signer.lower():
                        continue
                    for tx in txs.values():
                        if call_key(staking, normalized_tx(tx), signer)[0] == "proposeSlash":
                            return "pending"
                head = anvil.w3.eth.block_number
                for n in range(max(0, head - depth + 1), head + 1):
                    block = anvil.rpc("eth_getBlockByNumber", [hex(n), True])
                    for btx in block["transactions"]:
                        if btx["from"].lower() != signer.lower():
                            continue
                        if call_key(staking, normalized_tx(btx), signer)[0] == "proposeSlash":
                            return f"mined {head - n} blocks deep"
            time.sleep(0.1)
        return "not seen (none in flight)"

    # ---- settling
    def _settle(self, anvil: Anvil, engine: Engine, timeout: float) -> float | None:
        """Until nothing is in flight (actions, intents, verdicts), the signer has nothing pending
        and the indexer is at the chain's head — twice in a row, two blocks apart."""
        signer = devnet_account(SERVICE).address
        started = time.monotonic()
        deadline = started + timeout
        streak = 0
        while time.monotonic() < deadline:
            try:
                head = anvil.w3.eth.block_number
                work = open_work(engine)
                latest = anvil.w3.eth.get_transaction_count(signer, "latest")
                pending = anvil.w3.eth.get_transaction_count(signer, "pending")
                indexed, _ = indexed_head(engine)
                quiet = not any(work.values()) and latest == pending and indexed >= head
            except Exception:
                quiet = False
            streak = streak + 1 if quiet else 0
            if streak >= 2:
                return round(time.monotonic() - started, 1)
            time.sleep(1.0 if quiet else 0.5)
        with contextlib.suppress(Exception):
            self.violations.append(
                f"not settled within {timeout:.0f}s: open {open_work(engine)}, indexed "
                f"{indexed_head(engine)[0]} of {anvil.w3.eth.block_number}"
            )
        return None

    # ---- the trial
    def run(self, sabotage: Callable[[TrialEnv], None] | None = None) -> TrialResult:
        started = time.monotonic()
        opts = self.opts
        anvil = Anvil.start(self.workdir, load_state=self.snapshot.state, block_time=1)
        sup: Supervisor | None = None
        watch: LeaderWatch | None = None
        engine: Engine | None = None
        sink_group = f"t{self.index}"
        self.sink.hang_probability = 0.0
        result: TrialResult | None = None
        try:
            deployment = self.snapshot.deployment.model_copy(update={"rpc_url": anvil.rpc_url})
            deployment_path = self.workdir / "deployment.json"
            deployment.save(deployment_path)
            self.pg.create_database(self.db_name, template=self.template)
            engine = make_engine(self.pg.url(self.db_name, application_name="chaos-harness"))
            staking = StakingContract(anvil.w3, deployment.contracts.SwarmStaking)
            node = LocalNode("anvil", anvil.port, anvil.process, anvil.log_path, anvil.w3)
            net = LocalDeployment(node, deployment, deployment_path, staking, self.snapshot.providers)

            apis = self.rng.choice((1, 2))
            env_for = self._env_for(deployment_path, anvil.rpc_url)
            fs = self.forkserver
            processes = [RoleProcess("indexer", "indexer", self.workdir, env_for, forkserver=fs)]
            processes += [
                RoleProcess(f"api-{i + 1}", "api", self.workdir, env_for, port=free_port(), forkserver=fs)
                for i in range(apis)
            ]
            processes += [
                RoleProcess(f"worker-{s}", "worker", self.workdir, env_for, forkserver=fs) for s in "ab"
            ]
            self._phase("chain_db")
            sup = Supervisor(processes).start()
            api_urls = [p.base_url for p in processes if p.role == "api"]
            wait_http_ready(api_urls, timeout=90)
            self._phase("start")
            watch = LeaderWatch(engine, [p for p in processes if p.role == "worker"]).start()

            signer = devnet_account(SERVICE).address
            first_block = anvil.w3.eth.block_number + 1
            nonce_before = anvil.w3.eth.get_transaction_count(signer, "latest")
            bodies = make_bodies(net, self.rng, opts.verdicts, f"chaos-{self.seed}")
            self.detected_block = anvil.w3.eth.block_number  # detected_at <= this block's time
            plan = self._plan()
            pace = BURST_SECONDS * 4 / max(1, opts.verdicts)
            burst = Burst(api_urls, bodies, pace=pace, seed=self.seed, give_up_after=150.0)
            poster = threading.Thread(target=burst.run, name="burst", daemon=True)
            self.burst_started = time.monotonic()
            poster.start()
            for at, kind in plan:
                time.sleep(max(0.0, self.burst_started + at - time.monotonic()))
                self._inject(kind, sup, watch, anvil)
            poster.join()
            self._phase("burst")
            if sabotage is not None:
                sabotage(TrialEnv(net, anvil, engine, bodies, burst))

            remaining = self.deadline - time.monotonic()
            settle_seconds = self._settle(
                anvil, engine, timeout=max(30.0, min(opts.settle_timeout, remaining))
            )
            self.sink.hang_probability = 0.0
            time.sleep(1.5)  # one more block: a late re-send would be mined by now
            settled = wait_verdicts_settled(api_urls, list(burst.accepted), timeout=30)
            watch.stop()
            self._phase("settle")
            result = self._check(
                net, engine, bodies, burst, settled, first_block, nonce_before, plan, sup, watch, sink_group
            )
            result.settle_seconds = settle_seconds
            result.apis = apis
            self._phase("check")
        except Exception as exc:
            self.violations.append(f"harness: {type(exc).__name__}: {exc}"[:2000])
        finally:
            if watch is not None:
                watch.stop()
            if sup is not None:
                sup.stop()
            anvil.stop()
            if engine is not None:
                engine.dispose()
            self._phase("stop")
        if result is None:
            result = self._empty_result(sup)
        result.violations = self.violations
        result.phases = self.phases
        result.seconds = round(time.monotonic() - started, 1)
        if result.violations:
            result.workdir = str(self.workdir)
            self._keep_evidence()
        else:
            self.pg.drop_database(self.db_name)
            shutil.rmtree(self.workdir, ignore_errors=True)
        return result

    def _keep_evidence(self) -> None:
        """A failed trial keeps its logs; add the database (pg_dump) and the trial's record."""
        with contextlib.suppress(Exception):
            self.pg.dump(self.db_name, self.workdir / "database.sql")
        with contextlib.suppress(Exception):
            record = {"seed": self.seed, "faults": [asdict(f) for f in self.faults], "phases": self.phases}
            (self.workdir / "trial.json").write_text(json.dumps(record, indent=2))
        with contextlib.suppress(Exception):
            (self.workdir / "chain-signer-txs.json").write_text(json.dumps(self._evidence_txs, indent=1))

    def _empty_result(self, sup: Supervisor | None) -> TrialResult:
        return TrialResult(
            self.index, self.seed, 0, self.opts.verdicts, 0.0, None, 0, self.faults, dict(self.kills),
            0, 0, [], 0.0, self._exits(sup), {}, {}, 0, None, {}, {},
        )  # fmt: skip

    @staticmethod
    def _exits(sup: Supervisor | None) -> list[dict[str, Any]]:
        return [asdict(e) for e in (sup.exits if sup else []) if not e.deliberate]

    def _check(
        self,
        net: LocalDeployment,
        engine: Engine,
        bodies: list[dict[str, Any]],
        burst: Burst,
        settled: dict[str, dict[str, Any]],
        first_block: int,
        nonce_before: int,
        plan: list[tuple[float, str]],
        sup: Supervisor,
        watch: LeaderWatch,
        sink_group: str,
    ) -> TrialResult:
        v = self.violations
        v += burst.refused
        signer = devnet_account(SERVICE).address
        audit = check_actions(
            net.node.w3, net.staking, signer, bodies, burst.accepted, settled, first_block, nonce_before
        )
        v += audit.violations
        if audit.violations:
            with contextlib.suppress(Exception):
                self._evidence_txs = [
                    {**tx, "call": list(call_key(net.staking, tx, signer)), **receipt}
                    for tx, receipt in signer_transactions(net.node.w3, signer, first_block)
                ]
        v += check_intents(engine)
        v += check_projection(engine, net.staking)

        # Webhooks: the outbox (worker side) and the receiver's view.
        outbox = check_webhooks(engine, int(time.time() * 1000))
        v += outbox.violations
        terms = leader_terms([p for p in sup.processes if p.role == "worker"], sup.exits, time.time())
        stats = self.sink.group(sink_group)
        if bodies and outbox.rows == 0:
            v.append("no webhook event reached the outbox")
        if stats.bad_signatures:
            v.append(f"{stats.bad_signatures} webhook deliveries had a bad signature")
        kinds = {k for _, k in plan}
        if "webhook" in kinds and stats.hung == 0:
            self.faults.append(
                FaultRecord("note", 0, "webhook fault drawn but no delivery arrived while hanging")
            )

        # Response deadlines of the isolations (jails).
        misses, latencies = self._jail_deadlines(engine)
        if kinds == {"webhook"} and misses:
            v.append(
                f"{misses} isolations confirmed after their response deadline while the only fault was a "
                "hanging webhook receiver: webhooks delay the verdict pipeline"
            )
        p95 = round(statistics.quantiles(latencies, n=20)[-1], 2) if len(latencies) >= 2 else None
        return TrialResult(
            index=self.index,
            seed=self.seed,
            apis=0,
            verdicts=len(burst.accepted),
            seconds=0.0,
            settle_seconds=None,
            transactions=audit.transactions,
            faults=self.faults,
            kills_by_role=dict(self.kills),
            takeovers=max(0, len(terms) - 1),
            leader_moves=sum(1 for a, b in itertools.pairwise(terms) if a.slot != b.slot),
            leaders=[f"{t.slot} term {t.term} {t.end - t.start:.1f}s ({t.how_ended})" for t in terms],
            worker_overlap_seconds=round(overlap_seconds(terms), 1),
            exits=self._exits(sup),
            actions=dict(audit.actions),
            calls=dict(audit.calls),
            deadline_misses=misses,
            jail_p95_seconds=p95,
            webhooks={
                "outbox_rows": outbox.rows,
                "outbox_by_state": outbox.by_state,
                "retried": outbox.retried,
                "received": stats.received,
                "hung": stats.hung,
                "duplicates": stats.duplicates,
            },
            burst={"accepted": len(burst.accepted), "retries": burst.retries, "failovers": burst.failovers},
        )

    @staticmethod
    def _jail_deadlines(engine: Engine) -> tuple[int, list[float]]:
        a, vt = t.actions, t.verdicts
        with engine.connect() as conn:
            rows = conn.execute(
                select(a.c.deadline_ms, a.c.confirmed_ms, vt.c.received_ms)
                .join(vt, vt.c.id == a.c.verdict_id)
                .where(a.c.kind == "jail", a.c.state == "confirmed")
            ).all()
        misses = sum(1 for r in rows if r.confirmed_ms is not None and r.confirmed_ms > r.deadline_ms)
        latencies = [(r.confirmed_ms - r.received_ms) / 1000 for r in rows if r.confirmed_ms is not None]
        return misses, latencies


# ------------------------------------------------------------------------------------- the run


def parse_faults(spec: str) -> list[str]:
    out = []
    for item in (s.strip() for s in spec.split(",") if s.strip()):
        kind = KINDS.get(item, item)
        if kind not in KINDS.values():
            names = ", ".join(f"{k}={n}" for k, n in KINDS.items())
            raise argparse.ArgumentTypeError(f"unknown fault {item!r}: use letters or names from {names}")
        out.append(kind)
    if not out:
        raise argparse.ArgumentTypeError("--faults needs at least one fault")
    return out


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=50)
    p.add_argument("--verdicts", type=int, default=50, help="verdicts per trial (over 20 providers)")
    p.add_argument("--seed", type=int, default=1, help="seed of the first trial; trial i uses seed + i")
    p.add_argument(
        "--faults",
        type=parse_faults,
        default=list(KINDS.values()),
        help="kinds to draw from (default a,b,c,d,e)",
    )
    p.add_argument("--anvil-stop-seconds", type=float, default=30.0, help="length of a long node stop")
    p.add_argument(
        "--long-stop-share", type=float, default=0.3, help="share of node stops that are long (others 2-6 s)"
    )
    p.add_argument("--time-limit", type=float, default=2400.0, help="seconds; no trial starts after it")
    p.add_argument("--settle-timeout", type=float, default=90.0, help="seconds a trial may take to settle")
    p.add_argument("--workdir", type=Path, default=None, help="keeps logs of failed trials here")
    p.add_argument(
        "--no-forkserver",
        action="store_true",
        help="start every role process as a fresh interpreter (slower: ~3 s of CPU per start)",
    )
    return p.parse_args(argv)


@contextlib.contextmanager
def chaos_environment(workroot: Path, seed: int, forkserver: bool = True) -> Iterator[RunEnv]:
    """The run's private PostgreSQL, chain snapshot, template database, webhook receiver and fork
    server; all stopped and removed on exit (also on Ctrl-C or an error)."""
    say("starting a private PostgreSQL cluster")
    pg = PgCluster.start()
    sink: WebhookSink | None = None
    fs: ForkServer | None = None
    try:
        if forkserver:
            fs = ForkServer.start()
        say(f"PostgreSQL on 127.0.0.1:{pg.port}; provisioning the chain snapshot ({PROVIDERS} providers)")
        snapshot = provision_snapshot(workroot)
        template = migrate_template(pg)
        sink = WebhookSink(WEBHOOK_SECRET.encode(), hang_seconds=NOTIFIER_TIMEOUT + 2, seed=seed).start()
        yield RunEnv(pg, snapshot, template, sink, fs)
    finally:
        if sink is not None:
            sink.stop()
        if fs is not None:
            fs.stop()
        pg.stop()


def run_trial(
    index: int,
    seed: int,
    opts: argparse.Namespace,
    env: RunEnv,
    workroot: Path,
    deadline: float | None = None,
    sabotage: Callable[[TrialEnv], None] | None = None,
) -> TrialResult:
    """One trial (see the module's docstring); `sabotage(env)` runs right after the burst."""
    trial = Trial(index, seed, opts, env, workroot, deadline or time.monotonic() + 3600)
    return trial.run(sabotage)


def summarize(
    results: list[TrialResult], opts: argparse.Namespace, total: float, stopped_early: bool, interrupted: bool
) -> dict[str, Any]:
    faults: Counter[str] = Counter()
    kills: Counter[str] = Counter()
    long_stops = short_stops = 0
    reorg_in_flight = 0
    for r in results:
        for f in r.faults:
            if f.kind == "note":
                continue
            faults[f.kind] += 1
            if f.kind == "anvil_stop":
                long_stops += f.detail.startswith("long")
                short_stops += f.detail.startswith("short")
            if f.kind == "reorg" and "not seen" not in f.detail:
                reorg_in_flight += 1
        kills.update(r.kills_by_role)
    seconds = sorted(r.seconds for r in results)
    webhook_trials = [r for r in results if any(f.kind == "webhook" for f in r.faults)]
    exits = Counter(
        f"{e['name'].rstrip('0123456789-ab') or e['name']}: {e['reason'][:120]}"
        for r in results
        for e in r.exits
    )
    return {
        "trials": len(results),
        "passed": sum(1 for r in results if not r.violations),
        "seed": opts.seed,
        "verdicts_per_trial": opts.verdicts,
        "faults": dict(faults),
        "anvil_stops": {"long": long_stops, "long_seconds": opts.anvil_stop_seconds, "short": short_stops},
        "reorgs_with_slash_in_flight": reorg_in_flight,
        "kills_by_role": dict(kills),
        "takeovers": sum(r.takeovers for r in results),
        "takeovers_by_another_process": sum(r.leader_moves for r in results),
        "worker_overlap_seconds": round(sum(r.worker_overlap_seconds for r in results), 1),
        "verdicts": sum(r.verdicts for r in results),
        "transactions": sum(r.transactions for r in results),
        "actions": dict(sum((Counter(r.actions) for r in results), Counter())),
        "deadline_misses": sum(r.deadline_misses for r in results),
        "webhooks": {
            "trials_with_hanging_receiver": len(webhook_trials),
            "hung_deliveries": sum(r.webhooks.get("hung", 0) for r in results),
            "outbox_rows": sum(r.webhooks.get("outbox_rows", 0) for r in results),
            "retried_rows": sum(r.webhooks.get("retried", 0) for r in results),
            "jail_p95_seconds_with_hanging_receiver": _median([r.jail_p95_seconds for r in webhook_trials]),
            "jail_p95_seconds_others": _median(
                [r.jail_p95_seconds for r in results if r not in webhook_trials]
            ),
        },
        "unplanned_exits": dict(exits.most_common(20)),
        "violations": [
            {"trial": r.index, "seed": r.seed, "detail": d, "workdir": r.workdir}
            for r in results
            for d in r.violations
        ][:200],
        "median_trial_seconds": statistics.median(seconds) if seconds else None,
        "max_trial_seconds": seconds[-1] if seconds else None,
        "median_settle_seconds": _median([r.settle_seconds for r in results]),
        "total_seconds": round(total, 1),
        "stopped_by_time_limit": stopped_early,
        "interrupted": interrupted,
    }


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 2) if present else None


def main(argv: list[str] | None = None) -> int:
    opts = arguments(argv)
    started = time.monotonic()
    deadline = started + opts.time_limit
    workroot = opts.workdir or Path(tempfile.mkdtemp(prefix="swarm-chaos-"))
    workroot.mkdir(parents=True, exist_ok=True)
    results: list[TrialResult] = []
    stopped_early = interrupted = False

    def on_term(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)  # also when started in the background (inherited SIG_IGN)
    try:
        with chaos_environment(workroot, opts.seed, forkserver=not opts.no_forkserver) as env:
            ready = time.monotonic() - started
            say(f"ready after {ready:.0f}s; {opts.trials} trials, faults {','.join(opts.faults)}")
            for i in range(opts.trials):
                typical = statistics.median(r.seconds for r in results) if results else 45.0
                if time.monotonic() + typical > deadline:
                    stopped_early = True
                    say(f"time limit: stopping after {len(results)} trials")
                    break
                r = run_trial(i + 1, opts.seed + i, opts, env, workroot, deadline)
                results.append(r)
                kinds = ",".join(f.kind for f in r.faults if f.kind != "note") or "-"
                say(
                    f"trial {i + 1}/{opts.trials} seed {r.seed}: {r.apis} api, faults {kinds}, "
                    f"{r.verdicts} verdicts, {r.transactions} txs, {r.takeovers} takeovers, "
                    f"settled {r.settle_seconds}s, {r.seconds}s: "
                    + ("OK" if not r.violations else f"{len(r.violations)} VIOLATIONS (logs in {r.workdir})")
                )
                say(f"    phases {r.phases}")
                for line in r.violations[:10]:
                    say(f"    {line}")
    except KeyboardInterrupt:
        interrupted = True
        say("interrupted: stopping")
    summary = summarize(results, opts, time.monotonic() - started, stopped_early, interrupted)
    print(json.dumps(summary, indent=2))
    failed = any(r.violations for r in results)
    if not failed:
        shutil.rmtree(workroot, ignore_errors=True)
    if failed:
        return 1
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
