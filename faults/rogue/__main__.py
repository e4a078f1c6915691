"""`python -m faults.rogue`: see the package docstring."""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import faults.rogue as package
from faults.rogue.detector import Options, run_detector_variant
from faults.rogue.network import pg_unavailable
from faults.rogue.service_key import run_service_key


class TimeLimit(RuntimeError):
    pass


def say(message: str) -> None:
    print(f"[rogue {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _on_alarm(_signum: int, _frame: object) -> None:
    raise TimeLimit("the run's time limit passed")


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=package.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--variant", choices=("both", "service-key", "detector"), default="both")
    p.add_argument("--db", choices=("both", "sqlite", "postgresql"), default="both")
    p.add_argument("--quick", action="store_true", help="100 providers, 200 rogue verdicts")
    p.add_argument("--providers", type=int, default=None, help="staked providers (default 500)")
    p.add_argument("--rogue-verdicts", type=int, default=None, help="verdicts the rogue signs (default 1000)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--time-limit", type=int, default=900, help="seconds; the run stops itself after them")
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument("--keep", action="store_true", help="keep the work files even when the run passes")
    args = p.parse_args(argv)
    args.providers = args.providers or (100 if args.quick else 500)
    args.rogue_verdicts = args.rogue_verdicts or (200 if args.quick else 1000)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    workroot = args.workdir or Path(tempfile.mkdtemp(prefix="swarm-rogue-"))
    workroot.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    summary: dict[str, Any] = {
        "trial": "rogue",
        "quick": args.quick,
        "providers": args.providers,
        "rogue_verdicts": args.rogue_verdicts,
    }
    violations: list[str] = []
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(args.time_limit)
    try:
        if args.variant in ("both", "service-key"):
            say("variant 1: a stolen service key calls the contract directly")
            summary["stolen_service_key"], bad = run_service_key(
                workroot / "service-key", args.providers, say
            )
            violations += bad
        if args.variant in ("both", "detector"):
            summary["rogue_detector"] = {}
            opts = Options(args.providers, args.rogue_verdicts, args.seed)
            for db in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
                if db == "postgresql" and (why := pg_unavailable()):
                    violations.append(f"postgresql: not run: {why}")
                    continue
                say(f"variant 2 on {db}: a rogue detector against the service")
                result, bad, _ = run_detector_variant(db, workroot, opts, say)
                summary["rogue_detector"][db] = result
                violations += bad
    except TimeLimit:
        violations.append(f"the run passed its time limit of {args.time_limit}s and stopped")
    except Exception as exc:
        violations.append(f"the run failed: {type(exc).__name__}: {exc}")
        traceback.print_exc(file=sys.stderr)
    finally:
        signal.alarm(0)
    summary["violations"] = violations
    summary["passed"] = not violations
    summary["seconds"] = round(time.monotonic() - started, 1)
    keep = bool(violations) or args.keep
    summary["workdir"] = str(workroot) if keep else None
    for v in violations:
        say(f"VIOLATION: {v}")
    print(json.dumps(summary, indent=2))
    if not keep:
        shutil.rmtree(workroot, ignore_errors=True)
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
