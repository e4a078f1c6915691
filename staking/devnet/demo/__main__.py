"""`python -m staking.devnet.demo [--api URL] [--deployment PATH]`: the scenario of
`staking.devnet.demo` against a running `make run`. Exit 0 at the end, 1 when a step did not
happen (the reason printed), 2 when no service answers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import httpx

from staking.devnet import demo
from staking.devnet.demo.epoch import run_reward_epoch
from staking.devnet.demo.incident import run_misfiring_detector
from staking.devnet.demo.session import DemoError, Session
from staking.devnet.demo.slashing import run_verdicts


def main(argv: list[str] | None = None) -> int:
    description = (demo.__doc__ or "").split("\n")[0]
    p = argparse.ArgumentParser(prog="python -m staking.devnet.demo", description=description)
    p.add_argument("--api", default="http://127.0.0.1:8000")
    p.add_argument("--deployment", type=Path, default=Path("deployments/localhost.json"))
    args = p.parse_args(argv)
    try:
        httpx.get(f"{args.api}/healthz", timeout=2).raise_for_status()
    except httpx.HTTPError:
        print(f"no service answers at {args.api}: start it with `make run` (in another terminal) first")
        return 2
    try:
        session = Session(args.api, args.deployment)
        roles = run_verdicts(session)
        run_reward_epoch(session, roles)
        run_misfiring_detector(session)
    except (DemoError, FileNotFoundError) as exc:
        print(f"\ndemo stopped: {exc}")
        return 1
    print("\nDone. Everything above is on the devnet and in the service's database; explore it at /docs.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
