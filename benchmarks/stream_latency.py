"""Stream latency benchmark: how soon a subscriber of `GET /v1/stream` learns of an isolation.

The burst of `make bench-latency` (`--verdicts` breach / attack verdicts over `--providers`
providers from `--clients` detectors, unthrottled) goes into `swarm-staking serve --role all` on a
private Anvil with 1-second blocks. A subscriber follows `GET /v1/stream?kinds=jailed`; each
verdict's latency is its `received_at` (as the service reports it) to the wall-clock moment its
`jailed` event (matched by verdict id) reached the subscriber.

The peer baseline, measured in the same run: what a scheduler does without the stream, polling
every provider's document (`GET /v1/providers/{a}`) once a second until it reads `jailed`; per
provider, the first jail's `received_at` to the poll that saw it. The stream's figure for the same
first jails is reported next to it, and the ratio of their p99s.

    .venv/bin/python -m benchmarks.stream_latency [--verdicts 500] [--providers 50] [--poll-interval 1]

Progress on stderr, one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import machine, say, time_limit
from benchmarks.verdict_latency import parse_time, post_all, summary
from staking.devnet.harness import ServiceProcess, VerdictSigner, local_deployment, without_incidents
from staking.domain.vocabulary import EventType, Severity


def subscribe(base_url: str, seen: dict[str, float], stop: threading.Event, ready: threading.Event) -> None:
    """Follows the stream of jails; records when each verdict's `jailed` event arrived."""
    with httpx.stream("GET", f"{base_url}/v1/stream", params={"kinds": "jailed"}, timeout=60) as r:
        ready.set()
        for line in r.iter_lines():
            if line.startswith("data: "):
                data = json.loads(line[6:])
                seen.setdefault(str(data["args"]["verdictId"]).lower(), time.time())
            if stop.is_set():
                return


def poll(
    base_url: str, providers: list[str], interval: float, seen: dict[str, float], stop: threading.Event
) -> None:
    """The baseline: every provider's document once per `interval`; when it first reads jailed."""
    with httpx.Client(base_url=base_url, timeout=30) as http:
        while not stop.is_set():
            started = time.monotonic()
            for p in providers:
                if p not in seen and http.get(f"/v1/providers/{p}").json().get("status") == "jailed":
                    seen[p] = time.time()
            time.sleep(max(0.0, interval - (time.monotonic() - started)))


def received(base_url: str, bodies: list[dict[str, Any]]) -> dict[str, float]:
    with httpx.Client(base_url=base_url, timeout=30) as http:
        return {
            b["id"].lower(): parse_time(http.get(f"/v1/verdicts/{b['id']}").json()["received_at"])
            for b in bodies
        }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.stream_latency", description=__doc__.split("\n")[0]
    )
    p.add_argument("--verdicts", type=int, default=500)
    p.add_argument("--providers", type=int, default=50)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--poll-interval", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--time-limit", type=int, default=900)
    args = p.parse_args(argv)
    cancel_limit = time_limit(args.time_limit)
    workdir = Path(tempfile.mkdtemp(prefix="swarm_stream_"))
    try:
        say(f"starting Anvil with {args.providers} providers, 1-second blocks")
        with local_deployment(workdir, extra_providers=args.providers - 7, block_time=1) as net:
            service = ServiceProcess(
                net, workdir, f"sqlite:///{workdir}/svc.db", extra_env=without_incidents(workdir)
            )
            service.upgrade_db()
            service.start()
            stop, ready = threading.Event(), threading.Event()
            streamed: dict[str, float] = {}
            polled: dict[str, float] = {}
            providers = list(net.providers[: args.providers])
            threads = [
                threading.Thread(
                    target=subscribe, args=(service.base_url, streamed, stop, ready), daemon=True
                ),
                threading.Thread(
                    target=poll,
                    args=(service.base_url, providers, args.poll_interval, polled, stop),
                    daemon=True,
                ),
            ]
            try:
                for th in threads:
                    th.start()
                ready.wait(30)
                rng = random.Random(args.seed)
                signer, now = VerdictSigner(net, f"stream-{args.seed}"), net.now()
                kinds = [EventType.SECURITY_BREACH, EventType.SYSTEM_ATTACK]
                bodies = [
                    signer.body(providers[i % len(providers)], rng.choice(kinds), Severity.HIGH, now)
                    for i in range(args.verdicts)
                ]
                say(f"posting {args.verdicts} verdicts from {args.clients} clients")
                post_all(service.base_url, bodies, args.clients, 0.0)
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline and (
                    len(streamed) < len(bodies) or len(polled) < len(providers)
                ):
                    time.sleep(0.5)
                at = received(service.base_url, bodies)
            finally:
                stop.set()
                service.stop()
        missing = [b["id"] for b in bodies if b["id"].lower() not in streamed]
        if missing:
            raise RuntimeError(f"{len(missing)} jails never reached the subscriber, first {missing[0]}")
        stream_all = [streamed[v] - t for v, t in at.items()]
        first: dict[str, str] = {}
        for b in bodies:  # each provider's first verdict to be received
            vid = b["id"].lower()
            if b["provider"] not in first or at[vid] < at[first[b["provider"]]]:
                first[b["provider"]] = vid
        stream_first = [streamed[vid] - at[vid] for vid in first.values()]
        poll_first = [polled[prov] - at[vid] for prov, vid in first.items() if prov in polled]
        s_all, s_first, b_first = summary(stream_all), summary(stream_first), summary(poll_first)
        result = {
            "verdicts": args.verdicts,
            "providers": args.providers,
            "block_time_s": 1,
            "received_to_jailed_event_delivered": s_all,
            "first_jail_per_provider": {
                "stream": s_first,
                "baseline_poll_provider_documents": {**b_first, "interval_s": args.poll_interval},
                "p99_ratio_poll_over_stream": round(b_first["p99_s"] / s_first["p99_s"], 2),
            },
            "machine": machine(),
        }
        say(
            f"stream p99 {s_all['p99_s']}s (first jails {s_first['p99_s']}s), polling p99 {b_first['p99_s']}s"
        )
    finally:
        cancel_limit()
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
