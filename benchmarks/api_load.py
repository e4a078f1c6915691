"""API load benchmark: `GET /v1/providers/{address}` against the same server's bare `/healthz`.

One run does, on a private Anvil:

1. **Chain.** The devnet deployment plus `--providers` registered and staked providers in all, of
   mixed classes, GPU counts and stakes (`provision_providers_bulk`: pre-signed transactions sent
   in JSON-RPC batches and mined in large blocks), then a realistic mix: some providers unbonding
   part of their stake, some jailed (detector-signed verdicts, sent by the service account) and a
   few with a pending slash. The set-up time is measured and reported.
2. **Databases.** A fresh SQLite file and a fresh PostgreSQL database, each migrated with
   `swarm-staking db upgrade` and filled by the indexer up to the head (not timed; reported).
3. **Load.** For each database, `swarm-staking serve --role api` (log level WARNING) and a load
   generator in a second process (`--generate`: asyncio, keep-alive HTTP/1.1 connections, closed
   loop) against (a) `/healthz`, the ceiling, and (b) `/v1/providers/{address}` at uniformly random
   addresses of the providers plus `--unknown-fraction` unknown ones; `--warmup` seconds, then
   `--duration` seconds measured, `--repeat` times, the two endpoints interleaved. Every provider
   answer must be 200 with the right `address` and a `status` (`unregistered` exactly for the
   unknown ones); anything else counts as an error.
4. Prints one JSON object: req/s, p50/p99 latency and errors per endpoint (medians over the
   repeats), ratio = provider rate / healthz rate, per database. Target: ratio >= 0.5 with the
   provider p99 under 50 ms.

Progress on stderr, the JSON on stdout. Anvil, the servers and the generator are stopped, the
PostgreSQL databases dropped and the temporary files removed however the run ends; `--time-limit`
bounds the whole run.

    .venv/bin/python -m benchmarks.api_load [--providers 10000] [--duration 15] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from sqlalchemy import func, select

from benchmarks.common import PG_ADMIN_URL, database_kinds, machine, percentile, say, time_limit
from indexer.runner import Indexer, IndexerConfig
from staking.db import schema as t
from staking.db.engine import make_engine
from staking.devnet.accounts import DETECTOR, SERVICE, devnet_account
from staking.devnet.harness import LocalDeployment, ServiceProcess, local_deployment
from staking.devnet.provision import (
    extra_provider_account,
    manual_mining,
    provision_providers_bulk,
)
from staking.domain.vocabulary import TOKEN, Address, Bps, EventType, ProviderClass, Severity, Wei
from staking.verdict import Verdict, sign_verdict

PROVIDER_PATH = "/v1/providers/{address}"
TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0
DEMO_PROVIDERS = 7  # registered by provision_devnet


class BenchError(RuntimeError):
    """The benchmark could not measure, or a result failed its check."""


# ---------------------------------------------------------------------------- chain set-up


@dataclass
class Chain:
    net: LocalDeployment
    providers: list[Address]  # every registered provider (demo + bulk)
    jailed: int
    pending_slashes: int
    unbonding: int
    setup: dict[str, Any]


def provider_shape(i: int) -> tuple[ProviderClass, int, Wei]:
    """A spread of classes, GPU counts and stakes: 2% network operators, 10% platform users, the
    rest hardware providers with 1-8 GPUs staking 1.2-2x their minimum (1 in 97 below it)."""
    if i % 50 == 0:
        return ProviderClass.NETWORK_OPERATOR, 0, Wei((50_000 + 1_000 * (i % 7)) * TOKEN)
    if i % 10 == 1:
        return ProviderClass.PLATFORM_USER, 0, Wei((100 + 50 * (i % 9)) * TOKEN)
    gpus = 1 + (i * 7) % 8
    minimum = (1_000 + 500 * gpus) * TOKEN
    factor = 0.5 if i % 97 == 0 else 1.2 + 0.2 * (i % 5)
    return ProviderClass.HARDWARE_PROVIDER, gpus, Wei(int(minimum * factor))


def add_consequences(chain: Chain, bulk: list[LocalAccount], args: argparse.Namespace) -> dict[str, int]:
    """Partial unbonds (the providers themselves), jails and pending slashes (the service account,
    with verdicts signed by the detector), in a few large blocks."""
    net, rng = chain.net, random.Random(args.seed)
    staking = net.staking
    unbonders = rng.sample(bulk, min(len(bulk), round(len(bulk) * args.unbonding_fraction)))
    jailed = rng.sample(bulk, min(len(bulk), round(len(bulk) * args.jailed_fraction)))
    jailed_addresses = {a.address for a in jailed}
    others = [a for a in bulk if a.address not in jailed_addresses]
    slashed = jailed[: args.slashes] + rng.sample(
        others, min(len(others), max(0, args.slashes - len(jailed)))
    )
    service, detector = devnet_account(SERVICE), devnet_account(DETECTOR)
    domain, now = staking.domain(), net.now()
    max_jail = int(staking.contract.functions.maxJailDuration().call())
    kinds = [EventType.SECURITY_BREACH, EventType.SYSTEM_ATTACK, EventType.POLICY_VIOLATION]
    verdicts: dict[str, tuple[Verdict, bytes]] = {}  # one per provider: its jail and its slash
    for n, address in enumerate(dict.fromkeys(a.address for a in [*jailed, *slashed])):
        v = Verdict(
            keccak(text=f"api-load-{args.seed}-verdict-{n}"),
            Address(address),
            kinds[n % len(kinds)],
            Severity.HIGH if n % 2 else Severity.CRITICAL,
            now,
            keccak(text=f"api-load-{args.seed}-evidence-{n}"),
        )
        verdicts[address] = (v, sign_verdict(v, domain, detector.key))
    with manual_mining(net.node.rpc_url, args.block_gas_limit) as miner:
        raws: list[bytes] = []
        nonces = miner.nonces([a.address for a in unbonders])
        for account, nonce in zip(unbonders, nonces, strict=True):
            amount = staking.stake_of(account.address) // 4
            data = staking.contract.encode_abi("requestUnbond", args=[amount])
            raws.append(miner.sign(account, staking.address, data, nonce, 150_000))
        nonce = miner.nonces([service.address])[0]
        for n, account in enumerate(jailed):
            v, signature = verdicts[account.address]
            until = 0 if n % 2 else now + min(max_jail, 86_400 * (1 + n % 7))
            data = staking.contract.encode_abi("jail", args=[v.as_tuple(), signature, until])
            raws.append(miner.sign(service, staking.address, data, nonce, 300_000))
            nonce += 1
        for n, account in enumerate(slashed):
            v, signature = verdicts[account.address]
            bps = Bps((500, 1_000, 2_000)[n % 3])
            data = staking.contract.encode_abi("proposeSlash", args=[v.as_tuple(), signature, bps])
            raws.append(miner.sign(service, staking.address, data, nonce, 400_000))
            nonce += 1
        miner.send_and_mine(raws)  # a few hundred: every receipt is checked
    return {"unbonding": len(unbonders), "jailed": len(jailed), "pending_slashes": len(slashed)}


def node_binaries(pid: int) -> list[int]:
    """Descendants of `pid` (Linux /proc): the Anvil binary behind npm's `anvil` launcher."""
    out: list[int] = []
    with contextlib.suppress(OSError, ValueError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                out += [int(child), *node_binaries(int(child))]
    return out


def reap(pids: list[int], wait: float = 5.0) -> None:
    """Stops what is left of the node: LocalNode.stop() returns once the launcher exits, and a
    node still busy with a long request can outlive it."""
    deadline = time.monotonic() + wait
    for pid in pids:
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.1)
        with contextlib.suppress(OSError):
            if b"anvil" in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGKILL)
                say(f"killed the node process {pid}, which outlived its launcher")


@contextlib.contextmanager
def build_chain(workdir: Path, args: argparse.Namespace) -> Iterator[Chain]:
    started = time.monotonic()
    binaries: list[int] = []
    try:
        with local_deployment(workdir, extra_providers=0, block_time=0) as net:
            binaries = node_binaries(net.node.process.pid)
            deployed = time.monotonic()
            count = args.providers - DEMO_PROVIDERS
            say(f"deployed in {deployed - started:.1f}s; registering and staking {count:,} more providers")
            bulk = provision_providers_bulk(
                net.node.w3,
                net.deployment,
                count,
                shape=provider_shape,
                block_gas_limit=args.block_gas_limit,
                progress=lambda m: say(f"  {m} ({time.monotonic() - deployed:.1f}s)"),
            )
            provisioned = time.monotonic()
            chain = Chain(net, [*net.providers, *bulk], 0, 0, 0, {})
            mix = add_consequences(chain, [extra_provider_account(i) for i in range(count)], args)
            chain.jailed, chain.pending_slashes = mix["jailed"], mix["pending_slashes"]
            chain.unbonding = mix["unbonding"]
            done = time.monotonic()
            head = net.node.w3.eth.block_number
            chain.setup = {
                "deploy_s": round(deployed - started, 1),
                "providers_s": round(provisioned - deployed, 1),
                "consequences_s": round(done - provisioned, 1),
                "total_s": round(done - started, 1),
                "blocks": head,
            }
            say(
                f"chain ready in {done - started:.1f}s: {len(chain.providers):,} providers "
                f"({mix['jailed']} jailed, {mix['pending_slashes']} with a pending slash, "
                f"{mix['unbonding']} unbonding) in {head:,} blocks"
            )
            yield chain
    finally:
        reap(binaries)


# ---------------------------------------------------------------------------- databases


@contextlib.contextmanager
def fresh_database(kind: str, workdir: Path) -> Iterator[str]:
    """An empty database URL; removed (SQLite) or dropped (PostgreSQL) afterwards."""
    name = f"swarm_bench_{uuid.uuid4().hex[:12]}"
    if kind == "sqlite":
        path = workdir / f"{name}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def index(chain: Chain, service: ServiceProcess, kind: str) -> float:
    """`swarm-staking db upgrade`, then the indexer up to the head; returns the indexing seconds."""
    service.upgrade_db()
    engine = make_engine(service.database_url)
    try:
        started = time.monotonic()
        indexer = Indexer(engine, chain.net.node.w3, chain.net.deployment, IndexerConfig())
        indexer.run(exit_at_head=True)
        seconds = time.monotonic() - started
        head = chain.net.node.w3.eth.block_number
        with engine.connect() as conn:
            providers = conn.execute(select(func.count()).select_from(t.providers)).scalar_one()
            jailed = conn.execute(select(func.count()).where(t.providers.c.jailed)).scalar_one()
    finally:
        engine.dispose()
    if indexer.status.indexed != head or providers != len(chain.providers) or jailed != chain.jailed:
        raise BenchError(
            f"{kind}: indexed to block {indexer.status.indexed} of {head}, {providers} providers "
            f"({jailed} jailed), the chain has {len(chain.providers)} ({chain.jailed} jailed)"
        )
    say(f"{kind}: indexed {providers:,} providers in {seconds:.1f}s")
    return seconds


# ---------------------------------------------------------------------------- load generator
# Runs in its own process (`--generate JOB`), so that the client does not share a GIL (or an event
# loop) with anything else; on this machine the server, the client and the database each get a
# core at best, and the client reports its own CPU share so a saturated client would show.


def proc_cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of process `pid` (Linux /proc), or None."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Check:
    """What a correct answer is, per target."""

    def __init__(self, job: dict[str, Any]) -> None:
        self.kind: str = job["kind"]
        self.known: list[str] = job.get("known", [])
        self.unknown: list[str] = job.get("unknown", [])
        self.unknown_set = set(self.unknown)
        self.unknown_fraction: float = job.get("unknown_fraction", 0.0)
        self.statuses: Counter[str] = Counter()

    def pick(self, rng: random.Random) -> tuple[str, str | None]:
        """(path, the address asked about or None)."""
        if self.kind == "healthz":
            return "/healthz", None
        if self.kind == "verdicts":
            return f"/v1/verdicts/0x{rng.getrandbits(256):064x}", None
        pool = self.unknown if self.unknown and rng.random() < self.unknown_fraction else self.known
        address = rng.choice(pool)
        return PROVIDER_PATH.format(address=address), address

    def error(self, status: int, headers: dict[bytes, bytes], body: bytes, address: str | None) -> str | None:
        """None when the answer is right, else what is wrong with it."""
        if self.kind == "healthz":
            return None if status == 200 and b'"ok"' in body else f"{status} {body[:200]!r}"
        if self.kind == "verdicts":
            problem = headers.get(b"content-type", b"").startswith(b"application/problem+json")
            return None if status == 404 and problem else f"{status} {body[:200]!r}"
        if status != 200:
            return f"{status} {body[:200]!r}"
        try:
            doc = json.loads(body)
            state = doc["status"]
            same = str(doc["address"]).lower() == str(address).lower()
        except (ValueError, KeyError, TypeError):
            return f"200 without address and status: {body[:200]!r}"
        self.statuses[str(state)] += 1
        if not same:
            return f"asked for {address}, answered for {doc['address']}"
        if (address in self.unknown_set) != (state == "unregistered"):
            return f"{address}: status {state!r}"
        return None


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[bytes, bytes], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if b"content-length" in headers:
        body = await reader.readexactly(int(headers[b"content-length"]))
    elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        chunks = []
        while size := int((await reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16):
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
        await reader.readuntil(b"\r\n")
        body = b"".join(chunks)
    else:
        raise ValueError("a response without a length")
    return status, headers, body


async def generate(job: dict[str, Any]) -> dict[str, Any]:
    host, port, connections = job["host"], int(job["port"]), int(job["connections"])
    check = Check(job)
    loop_start = time.perf_counter()
    measure_from = loop_start + float(job["warmup"])
    stop_at = measure_from + float(job["duration"])
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    requests = body_bytes = 0
    last_done = measure_from
    marks: dict[str, float | None] = {}

    def mark() -> None:
        marks.update(
            wall=time.perf_counter(), own=own_cpu_seconds(), server=proc_cpu_seconds(job.get("server_pid"))
        )

    async def connection(n: int) -> None:
        nonlocal requests, body_bytes, last_done
        rng = random.Random(f"{job['seed']}-{n}")
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        while True:
            now = time.perf_counter()
            if now >= stop_at:
                break
            if not marks and now >= measure_from:
                mark()
            path, address = check.pick(rng)
            request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: application/json\r\n\r\n"
            started = time.perf_counter()
            measured = started >= measure_from
            try:
                if writer is None or reader is None:
                    reader, writer = await asyncio.open_connection(host, port)
                writer.write(request.encode())
                status, headers, body = await read_response(reader)
            except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                if measured:
                    errors[f"{type(exc).__name__}: {exc}"[:200]] += 1
                if writer is not None:
                    writer.close()
                reader = writer = None
                await asyncio.sleep(0.01)
                continue
            finished = time.perf_counter()
            if headers.get(b"connection", b"").lower() == b"close":
                writer.close()
                reader = writer = None
            if not measured:
                continue
            requests += 1
            body_bytes += len(body)
            last_done = max(last_done, finished)
            wrong = check.error(status, headers, body, address)
            if wrong is None:
                latencies.append(finished - started)
            else:
                errors[wrong[:200]] += 1
        if writer is not None:
            writer.close()

    await asyncio.gather(*(connection(n) for n in range(connections)))
    start_marks = dict(marks)
    mark()
    seconds = max(1e-9, last_done - measure_from)
    cpu_window = max(1e-9, float(marks["wall"] or 0) - float(start_marks.get("wall") or 0))
    out: dict[str, Any] = {
        "requests": requests,
        "ok": len(latencies),
        "errors": sum(errors.values()),
        "error_samples": dict(errors.most_common(3)),
        "seconds": round(seconds, 3),
        "rps": round(len(latencies) / seconds, 1),
        "mean_body_bytes": round(body_bytes / requests) if requests else None,
    }
    if latencies:
        ms = [x * 1000 for x in latencies]
        out |= {
            "p50_ms": round(percentile(ms, 50), 2),
            "p90_ms": round(percentile(ms, 90), 2),
            "p99_ms": round(percentile(ms, 99), 2),
            "max_ms": round(max(ms), 2),
            "mean_ms": round(statistics.fmean(ms), 2),
        }
    if start_marks:
        out["client_cpu_share"] = round(
            (float(marks["own"] or 0) - float(start_marks["own"] or 0)) / cpu_window, 2
        )
        if marks["server"] is not None and start_marks.get("server") is not None:
            server = float(marks["server"]) - float(start_marks["server"] or 0)
            out["server_cpu_share"] = round(server / cpu_window, 2)
    if check.statuses:
        out["statuses"] = dict(check.statuses.most_common())
    return out


def generator_main(job_path: Path) -> int:
    job = json.loads(job_path.read_text())
    print(json.dumps(asyncio.run(generate(job))), flush=True)
    return 0


def run_load(job: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """The generator in a child process; returns its summary."""
    path = workdir / f"load-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps(job))
    limit = float(job["warmup"]) + float(job["duration"]) + 60
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.api_load", "--generate", str(path)],
        capture_output=True,
        timeout=limit,
        cwd=Path(__file__).resolve().parent.parent,
    )
    path.unlink(missing_ok=True)
    if done.returncode != 0:
        raise BenchError(f"the load generator failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return result


# ---------------------------------------------------------------------------- per database


def endpoint_paths(service: ServiceProcess) -> set[str]:
    import httpx

    return set(httpx.get(f"{service.base_url}/openapi.json", timeout=10).json().get("paths", {}))


def measure(chain: Chain, kind: str, url: str, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    service = ServiceProcess(chain.net, workdir, url, role="api", extra_env={"SWARM_LOG_LEVEL": "WARNING"})
    index_seconds = index(chain, service, kind)
    rng = random.Random(args.seed)
    unknown_count = max(1, round(len(chain.providers) * args.unknown_fraction))
    unknown = [to_checksum_address(f"0x{rng.getrandbits(160):040x}") for _ in range(unknown_count)]
    try:
        service.start()
        target = "providers" if args.endpoint == "providers" else "verdicts"
        if target == "providers" and PROVIDER_PATH not in endpoint_paths(service):
            raise BenchError(
                f"GET {PROVIDER_PATH} is not in this service's /openapi.json; "
                "`--endpoint verdicts` exercises the harness against GET /v1/verdicts/{id} (404s)"
            )
        base = {
            "host": "127.0.0.1",
            "port": service.port,
            "connections": args.connections,
            "warmup": args.warmup,
            "duration": args.duration,
            "server_pid": service.process.pid if service.process else None,
        }
        jobs = {
            "healthz": {**base, "kind": "healthz"},
            target: {
                **base,
                "kind": target,
                "known": list(chain.providers),
                "unknown": unknown,
                "unknown_fraction": args.unknown_fraction,
            },
        }
        runs: dict[str, list[dict[str, Any]]] = {"healthz": [], target: []}
        for r in range(args.repeat):
            order = ["healthz", target] if r % 2 == 0 else [target, "healthz"]
            for name in order:
                result = run_load({**jobs[name], "seed": f"{args.seed}-{kind}-{r}"}, workdir)
                runs[name].append(result)
                say(
                    f"{kind} run {r + 1}/{args.repeat} {name}: {result['rps']:,.0f} req/s, "
                    f"p50 {result.get('p50_ms')} ms, p99 {result.get('p99_ms')} ms, "
                    f"{result['errors']} errors (client CPU {result.get('client_cpu_share')}, "
                    f"server CPU {result.get('server_cpu_share')})"
                )
                if result["errors"]:
                    say(f"  errors: {result['error_samples']}")
    finally:
        service.stop()
    out: dict[str, Any] = {"index_s": round(index_seconds, 1)}
    for name, samples in runs.items():
        out[name] = summarize(samples)
    ceiling, rate = out["healthz"]["rps"], out[target]["rps"]
    out["ratio"] = round(rate / ceiling, 3) if ceiling else None
    p99 = out[target].get("p99_ms")
    out["target_met"] = (
        out["ratio"] is not None
        and out["ratio"] >= TARGET_RATIO
        and p99 is not None
        and p99 < TARGET_P99_MS
        and out[target]["errors"] == 0
    )
    out["runs"] = runs
    return out


def summarize(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the repeats (errors: the total)."""
    out: dict[str, Any] = {"rps": round(statistics.median(s["rps"] for s in samples), 1)}
    for key in ("p50_ms", "p99_ms", "mean_body_bytes", "client_cpu_share", "server_cpu_share"):
        values = [s[key] for s in samples if key in s]
        if values:
            out[key] = round(statistics.median(values), 2)
    out["errors"] = sum(s["errors"] for s in samples)
    out["requests"] = sum(s["requests"] for s in samples)
    statuses: Counter[str] = Counter()
    for s in samples:
        statuses.update(s.get("statuses", {}))
    if statuses:
        out["statuses"] = dict(statuses.most_common())
    return out


# ---------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.api_load", description=__doc__.split("\n")[0])
    p.add_argument("--providers", type=int, default=10_000, help="registered providers in all (>= 50)")
    p.add_argument("--duration", type=float, default=15.0, help="measured seconds per load run")
    p.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each load run")
    p.add_argument("--repeat", type=int, default=3, help="runs per endpoint and database; medians reported")
    p.add_argument("--connections", type=int, default=10, help="concurrent keep-alive connections")
    p.add_argument("--unknown-fraction", type=float, default=0.05, help="share of unregistered addresses")
    p.add_argument("--jailed-fraction", type=float, default=0.02, help="share of providers jailed")
    p.add_argument("--unbonding-fraction", type=float, default=0.02, help="share partly unbonding")
    p.add_argument("--slashes", type=int, default=50, help="providers with a pending slash")
    p.add_argument("--skip-postgres", action="store_true", help="measure SQLite only")
    p.add_argument(
        "--endpoint",
        choices=["providers", "verdicts"],
        default="providers",
        help="providers: GET /v1/providers/{address}; verdicts: GET /v1/verdicts/{random id} (404s), "
        "a smoke test of the harness",
    )
    p.add_argument("--block-gas-limit", type=int, default=300_000_000, help="while setting the chain up")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--time-limit", type=int, default=1800, help="limit for the whole benchmark, seconds")
    p.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    p.add_argument("--generate", type=Path, metavar="JOB", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.generate is None and (
        args.providers < 50
        or args.duration <= 0
        or args.warmup < 0
        or args.repeat < 1
        or args.connections < 1
        or args.slashes < 0
        or not 0 <= args.unknown_fraction < 1
        or not 0 <= args.jailed_fraction <= 1
        or not 0 <= args.unbonding_fraction <= 1
    ):
        p.error("--providers >= 50, positive --duration/--repeat/--connections, fractions in [0, 1)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.generate is not None:
        return generator_main(args.generate)
    kinds = database_kinds(args.skip_postgres)
    if kinds is None:
        return 2
    cancel_limit = time_limit(args.time_limit)
    workdir = Path(tempfile.mkdtemp(prefix="swarm_api_load_"))
    wall = time.monotonic()
    try:
        say(f"starting Anvil; {args.providers:,} providers")
        with build_chain(workdir, args) as chain:
            databases: dict[str, Any] = {}
            for kind in kinds:
                with fresh_database(kind, workdir) as url:
                    databases[kind] = measure(chain, kind, url, workdir, args)
        result: dict[str, Any] = {
            "providers": len(chain.providers),
            "jailed": chain.jailed,
            "pending_slashes": chain.pending_slashes,
            "unbonding": chain.unbonding,
            "unknown_fraction": args.unknown_fraction,
            "endpoint": PROVIDER_PATH if args.endpoint == "providers" else "/v1/verdicts/{id} (404)",
            "setup": chain.setup,
            "load": {
                "client": "separate process, asyncio, keep-alive HTTP/1.1, closed loop",
                "connections": args.connections,
                "warmup_s": args.warmup,
                "duration_s": args.duration,
                "repeat": args.repeat,
            },
            **{kind: {k: v for k, v in d.items() if k != "runs"} for kind, d in databases.items()},
            "targets": {"ratio": TARGET_RATIO, "p99_ms": TARGET_P99_MS},
            "target_met": all(d["target_met"] for d in databases.values()),
            "runs": {kind: d["runs"] for kind, d in databases.items()},
            "machine": machine(),
        }
    finally:
        cancel_limit()
        shutil.rmtree(workdir, ignore_errors=True)
    say(f"done in {time.monotonic() - wall:.1f}s")
    print(json.dumps(result, indent=2))
    return 1 if args.check and not result["target_met"] else 0


if __name__ == "__main__":
    sys.exit(main())
