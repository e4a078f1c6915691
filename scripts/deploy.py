#!/usr/bin/env python3
"""Deploy SwarmStaking to a network from a keystore and write deployments/<network>.json.

    SWARM_RPC_URL=https://rpc.example SWARM_SIGNER_KEYSTORE=deployer.json \
    SWARM_SIGNER_PASSWORD_FILE=pw.txt .venv/bin/python scripts/deploy.py --network mainnet \
        --token 0x… --treasury 0x… --service 0x… --detector 0x… [--detector 0x…] \
        --owner 0x… --owner 0x… --owner 0x… --threshold 2 \
        --council-owner 0x… --council-owner 0x… --council-owner 0x… --council-threshold 2 [--dry-run]

The production shape (SPEC section 9), by default: the keystore's account deploys SwarmStaking,
grants SLASHER_ROLE + REWARDS_ORACLE_ROLE to --service and DETECTOR_ROLE to each --detector, then
deploys the governance Safe (--owner, --threshold), the council Safe (--council-owner,
--council-threshold) and a TimelockController (--min-delay, default 2 days) proposed to by the
governance Safe; hands DEFAULT_ADMIN_ROLE and GOVERNANCE_ROLE to the timelock and VETOER_ROLE to
the council, and renounces every role it held. `--governance eoa` (the devnet only) leaves the
deployer as governance. With no --token (devnet only) a SwarmToken is deployed too.
Run it with --dry-run first: it prints the plan and every problem with the shape, sends nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from eth_utils import is_address, to_checksum_address

from staking.chain.connect import wait_for_rpc
from staking.chain.keys import SignerError, load_signer
from staking.config import Settings
from staking.deploy import RoleHolders, StakingParams, deploy_all
from staking.deploy_governance import PRODUCTION_MIN_DELAY, SafeShape, governance_record, owners_of
from staking.deployment import Accounts, Contracts, Deployment, Governance
from staking.domain.errors import NodeUnreachable
from staking.domain.vocabulary import DEVNET_CHAIN_ID


def address(value: str) -> str:
    if not is_address(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not an address")
    return to_checksum_address(value)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--network", required=True, help="name of the deployment file to write")
    ap.add_argument("--rpc-url", help="overrides SWARM_RPC_URL")
    ap.add_argument("--token", type=address, help="existing ERC-20 stake token (required off the devnet)")
    ap.add_argument("--treasury", type=address, required=True)
    ap.add_argument("--service", type=address, required=True, help="the service signer")
    ap.add_argument("--detector", type=address, action="append", required=True)
    ap.add_argument("--veto-window", type=int, default=StakingParams.veto_window)
    ap.add_argument("--max-verdict-age", type=int, default=StakingParams.max_verdict_age)
    ap.add_argument("--epoch-length", type=int, default=StakingParams.epoch_length)
    # The automatic path's on-chain bounds (SPEC section 8); the README argues the defaults.
    ap.add_argument(
        "--cap-window", type=int, default=StakingParams.cap_window, help="seconds (default 1 day)"
    )
    ap.add_argument(
        "--providers",
        type=int,
        help="expected providers: sets --jail-cap to 10 %% of them (at least 1) unless --jail-cap is given",
    )
    ap.add_argument("--jail-cap", type=int, help=f"jails per window (default {StakingParams.jail_cap})")
    ap.add_argument("--slash-cap-bps", type=int, default=StakingParams.slash_cap_bps)
    ap.add_argument("--max-slash-bps", type=int, default=StakingParams.max_slash_bps)
    ap.add_argument(
        "--severity-bounds",
        type=lambda v: tuple(int(x) for x in v.split(",")),
        default=StakingParams.severity_bounds,
        help="low,medium,high,critical bps (default %(default)s)",
    )
    ap.add_argument("--quorum", type=int, default=StakingParams.quorum)
    ap.add_argument("--quorum-bps", type=int, default=StakingParams.quorum_bps)
    # SPEC section 9: who governs.
    ap.add_argument(
        "--governance", choices=("safe", "eoa"), default="safe", help="safe (default) or eoa (devnet only)"
    )
    ap.add_argument("--owner", type=address, action="append", default=[], help="a governance Safe owner")
    ap.add_argument("--threshold", type=int, help="governance Safe signatures needed")
    ap.add_argument("--council-owner", type=address, action="append", default=[], help="a council Safe owner")
    ap.add_argument("--council-threshold", type=int, help="council Safe signatures needed")
    ap.add_argument(
        "--min-delay", type=int, default=PRODUCTION_MIN_DELAY, help="timelock delay, seconds (default 2 days)"
    )
    ap.add_argument("--dry-run", action="store_true", help="print the plan, send nothing")
    args = ap.parse_args()

    settings = Settings()
    rpc_url = args.rpc_url or settings.rpc_url
    if not rpc_url:
        return fail("no RPC URL: pass --rpc-url or set SWARM_RPC_URL")
    try:
        w3 = wait_for_rpc(rpc_url, timeout=15)
        chain_id = w3.eth.chain_id
        raw = settings.signer_key.get_secret_value() if settings.signer_key else None
        signer = load_signer(chain_id, settings.signer_keystore, settings.signer_password_file, raw)
    except (NodeUnreachable, SignerError) as exc:
        return fail(str(exc))
    if args.token is None and chain_id != DEVNET_CHAIN_ID:
        return fail("--token is required off the devnet (a devnet token is deployed only on chain 31337)")

    if len(args.severity_bounds) != 4:
        return fail("--severity-bounds takes four values: low,medium,high,critical")
    jail_cap = args.jail_cap
    if jail_cap is None:
        jail_cap = max(1, args.providers // 10) if args.providers else StakingParams.jail_cap
    params = StakingParams(
        veto_window=args.veto_window,
        max_verdict_age=args.max_verdict_age,
        epoch_length=args.epoch_length,
        cap_window=args.cap_window,
        jail_cap=jail_cap,
        slash_cap_bps=args.slash_cap_bps,
        max_slash_bps=args.max_slash_bps,
        severity_bounds=args.severity_bounds,
        quorum=args.quorum,
        quorum_bps=args.quorum_bps,
    )
    shape = None
    if args.governance == "eoa":
        if chain_id != DEVNET_CHAIN_ID:
            return fail("--governance eoa is for the devnet only: one key as governance can take every stake")
    else:
        shape = SafeShape(
            owners=owners_of(args.owner),
            threshold=args.threshold if args.threshold is not None else 0,
            council_owners=owners_of(args.council_owner),
            council_threshold=args.council_threshold if args.council_threshold is not None else 0,
            min_delay=args.min_delay,
        )
        problems = shape.problems(production=chain_id != DEVNET_CHAIN_ID)
        if signer.address in shape.owners + shape.council_owners:
            problems.append(f"the deployer {signer.address} must not own a Safe: it renounces everything")
        if problems:
            return fail("the governance shape is unsafe:\n  " + "\n  ".join(problems))
    roles = RoleHolders(governance=signer.address, service=args.service, detectors=tuple(args.detector))
    print(f"chain {chain_id} at {rpc_url}; deployer {signer.address}")
    if shape is None:
        print("governance: the deployer's key alone (devnet)")
    else:
        print(f"governance Safe {shape.threshold} of {', '.join(shape.owners)}")
        print(f"council Safe    {shape.council_threshold} of {', '.join(shape.council_owners)}")
        print(f"timelock        {shape.min_delay} s delay; DEFAULT_ADMIN_ROLE (two steps, and an admin "
              f"delay of {shape.min_delay} s for the next transfer) and GOVERNANCE_ROLE")  # fmt: skip
        print("deployer        renounces every role afterwards (checked)")
    print(f"token {args.token or '(new SwarmToken)'} · treasury {args.treasury} · service {args.service}")
    print(f"detectors {', '.join(args.detector)} · {params}")
    if args.dry_run:
        print("dry run: nothing sent")
        return 0
    deployed = deploy_all(w3, signer, roles, args.treasury, params, token=args.token, shape=shape)
    holder = deployed.governance.timelock.address if deployed.governance else signer.address
    out = Path("deployments") / f"{args.network}.json"
    Deployment(
        chain_id=chain_id,
        rpc_url=rpc_url,
        deployed_block=deployed.deployed_block,
        contracts=Contracts(SwarmStaking=deployed.staking, SwarmToken=deployed.token),
        accounts=Accounts(
            governance=holder, service=args.service, detector=args.detector[0], treasury=args.treasury
        ),
        governance=(
            governance_record(deployed.governance, shape) if deployed.governance and shape else Governance()
        ),
    ).save(out)
    print(f"SwarmStaking {deployed.staking} at block {deployed.deployed_block}; wrote {out}")
    if deployed.governance:
        g = deployed.governance
        print(f"timelock {g.timelock.address} · governance Safe {g.governance_safe.address} · council Safe "
              f"{g.council_safe.address}; the deployer holds no role")  # fmt: skip
    return 0


def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
