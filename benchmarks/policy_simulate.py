"""Policy simulation benchmark (SPEC section 11): `policy simulate` over 100,000 recorded verdicts
against a naive per-verdict SQL replay, in the same run.

A SQLite file gets `--providers` registered providers and `--verdicts` verdict rows (every event
type and severity, arrivals minutes apart, detected up to an hour before; about 2 % rejected
later), each with the decision the active policy gives it on that history (computed by `replay`
and written with the rows, not timed). Then, `--repeat` times:

- `simulate_s`: what `swarm-staking policy simulate` does after parsing its arguments — one
  ordered read of the verdicts (`recorded_verdicts`), the providers' stakes, and `simulate`
  of a policy with doubled penalties against the recorded decisions. Target: < 10 s.
- `baseline_s`: the naive replay: for each verdict in order, one SQL query for its provider's
  history in the window (as the intake's `_decide` reads it, restricted to what had arrived and
  was not yet rejected), then `decide`. Checked to give the same decisions as `replay`.

Progress on stderr, one JSON object on stdout (medians of `--repeat`).

    .venv/bin/python -m benchmarks.policy_simulate [--verdicts 100000] [--providers 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from benchmarks.common import machine, say, time_limit
from indexer.projection import ProviderRow, row_dict
from staking.db import schema as t
from staking.db.engine import make_engine, upgrade
from staking.domain.vocabulary import EventType, Level, Severity, VerdictStatus
from staking.policy import Policy, load_policy
from staking.policy.engine import Offence, VerdictFacts, decide
from staking.policy.simulate import Outcome, RecordedVerdict, penalties_scaled, replay, simulate
from staking.readmodel.queries import snapshot
from staking.readmodel.verdict_history import bonded_stakes, recorded_verdicts

TARGET_S = 10.0
T0 = 1_800_000_000


def doubled(policy: Policy) -> Policy:
    return penalties_scaled(policy, 2)


def history(n: int, providers: list[str], seed: int) -> list[RecordedVerdict]:
    rng = random.Random(seed)
    raw, received = [], T0 * 1000
    for i in range(n):
        received += rng.randint(1, 120_000)
        rejected = received + rng.randint(1, 86_400_000) if rng.random() < 0.02 else None
        raw.append(
            RecordedVerdict(
                id=f"0x{i:064x}",
                provider=rng.choice(providers),
                event_type=int(rng.choice(list(EventType))),
                severity=int(rng.choice(list(Severity))),
                detected_at=received // 1000 - rng.randint(0, 3_600),
                received_ms=received,
                recorded=Outcome("none", 0, 0, None, 0),
                rejected_ms=rejected,
            )
        )
    outcomes = replay(raw, load_policy())
    return [RecordedVerdict(**{**v.__dict__, "recorded": o}) for v, o in zip(raw, outcomes, strict=True)]


def build(path: Path, verdicts: list[RecordedVerdict], providers: list[str]) -> Engine:
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    stake = 10_000 * 10**18
    shape: dict[str, Any] = {
        "provider_class": 0,
        "gpus": 1,
        "metadata_uri": "",
        "registered_block": 1,
        "updated_block": 1,
    }
    with engine.begin() as conn:
        conn.execute(
            t.providers.insert(), [row_dict(ProviderRow(address=a, active=stake, **shape)) for a in providers]
        )
        rows = [
            {
                "id": v.id, "provider": v.provider, "event_type": v.event_type, "severity": v.severity,
                "detected_at": v.detected_at, "evidence_hash": "0x" + "00" * 32, "evidence_uri": None,
                "signature": "0x" + "00" * 65, "signer": providers[0], "content_hash": "00" * 32,
                "status": VerdictStatus.REJECTED.value if v.rejected_ms else VerdictStatus.DONE.value,
                "level": v.recorded.level, "offence_number": v.recorded.offence_number,
                "slash_bps": v.recorded.slash_bps, "jail_seconds": v.recorded.jail_seconds,
                "recovery_path": v.recorded.recovery_path, "deadline_ms": v.received_ms,
                "received_ms": v.received_ms, "updated_ms": v.rejected_ms or v.received_ms,
            }
            for v in verdicts
        ]  # fmt: skip
        for start in range(0, len(rows), 10_000):
            conn.execute(t.verdicts.insert(), rows[start : start + 10_000])
    return engine


def measured_simulate(engine: Engine, current: Policy, other: Policy) -> tuple[float, Any]:
    started = time.perf_counter()
    with snapshot(engine) as conn:
        stakes = bonded_stakes(conn)
        result = simulate(recorded_verdicts(conn), current, other, stakes, T0)
    return time.perf_counter() - started, result


NAIVE_HISTORY = text(
    "SELECT detected_at, level FROM verdicts WHERE provider = :p AND detected_at > :since "
    "AND detected_at <= :at AND (received_ms < :received OR (received_ms = :received AND id < :id)) "
    "AND (status != 'rejected' OR updated_ms > :received)"
)


def measured_baseline(engine: Engine, policy: Policy) -> tuple[float, list[Outcome]]:
    """The replay a reader would first write: the verdicts in order, then one history query each.
    It reads the *recorded* levels of earlier verdicts, so it equals `replay` of the same policy."""
    started = time.perf_counter()
    out = []
    with engine.connect() as conn:
        columns = "id, provider, event_type, severity, detected_at, received_ms"
        order = conn.execute(text(f"SELECT {columns} FROM verdicts ORDER BY received_ms, id")).all()  # noqa: S608
        for v in order:
            rows = conn.execute(
                NAIVE_HISTORY,
                {"p": v.provider, "since": v.detected_at - policy.window_seconds, "at": v.detected_at,
                 "received": v.received_ms, "id": v.id},
            ).all()  # fmt: skip
            history = [Offence(r.detected_at, EventType(v.event_type), Level(r.level)) for r in rows]
            d = decide(
                VerdictFacts(EventType(v.event_type), Severity(v.severity), v.detected_at), history, policy
            )
            out.append(Outcome.of(d))
    return time.perf_counter() - started, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--verdicts", type=int, default=100_000)
    ap.add_argument("--providers", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--time-limit", type=int, default=1_800)
    args = ap.parse_args()
    cancel = time_limit(args.time_limit)
    current, other = load_policy(), doubled(load_policy())
    providers = [f"0x{n:040X}" for n in range(1, args.providers + 1)]
    with tempfile.TemporaryDirectory(prefix="swarm-bench-policy-") as tmp:
        say(f"recording {args.verdicts:,} verdicts of {args.providers:,} providers")
        verdicts = history(args.verdicts, providers, args.seed)
        engine = build(Path(tmp) / "policy.db", verdicts, providers)
        sims, bases = [], []
        for k in range(args.repeat):
            s, result = measured_simulate(engine, current, other)
            sims.append(s)
            say(f"run {k + 1}: simulate {s:.2f} s ({len(result.changed):,} decisions would change)")
            b, outcomes = measured_baseline(engine, current)
            bases.append(b)
            assert outcomes == [v.recorded for v in verdicts], "the naive replay disagrees with replay()"
            say(f"run {k + 1}: naive per-verdict SQL replay {b:.2f} s")
        engine.dispose()
    cancel()
    simulate_s, baseline_s = statistics.median(sims), statistics.median(bases)
    totals = result.totals()
    print(
        json.dumps(
            {
                "benchmark": "policy_simulate",
                "verdicts": args.verdicts,
                "providers": args.providers,
                "repeat": args.repeat,
                "simulate_s": round(simulate_s, 3),
                "simulate_runs_s": [round(x, 3) for x in sims],
                "verdicts_per_s": round(args.verdicts / simulate_s),
                "baseline_s": round(baseline_s, 3),
                "baseline_runs_s": [round(x, 3) for x in bases],
                "ratio_vs_baseline": round(baseline_s / simulate_s, 2),
                "decisions_changed": totals["decisions_changed"],
                "slashed_ratio_other_over_recorded": round(
                    totals["slashed_other"] / max(1, totals["slashed_recorded"]), 4
                ),
                "target_s": TARGET_S,
                "target_met": simulate_s < TARGET_S,
                "machine": machine(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
