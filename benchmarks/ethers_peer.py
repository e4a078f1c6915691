"""The sender benchmark's real peer: ethers v6's `NonceManager` (npm `ethers`, installed by the
benchmark into `var/bench-cache/ethers`, not the project's dependencies) firing the same calls as
fast as it can with nothing persisted (`benchmarks/ethers_nonce_manager.mjs`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from web3.contract.contract import ContractFunction

from benchmarks.common import say

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "var" / "bench-cache" / "ethers"
SCRIPT = Path(__file__).with_name("ethers_nonce_manager.mjs")
ETHERS = "ethers@6"


def ensure_ethers() -> Path:
    """The cache folder's node_modules with ethers v6 (installed on first use)."""
    modules = CACHE / "node_modules"
    if not (modules / "ethers" / "package.json").exists():
        say(f"installing {ETHERS} into {CACHE} (the benchmark's cache, not the project's dependencies)")
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--prefix",
                str(CACHE),
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                ETHERS,
            ],
            check=True,
            timeout=600,
            stdout=sys.stderr,  # stdout is the benchmark's JSON
        )
    return modules


def ethers_nonce_manager(
    rpc_url: str, account: LocalAccount, calls: list[ContractFunction]
) -> dict[str, Any]:
    """Confirmed tx/s of ethers firing `calls` from `account` (and what ethers reported)."""
    modules = ensure_ethers()
    body = {
        "modules": str(modules),
        "rpc": rpc_url,
        "key": "0x" + bytes(account.key).hex(),
        "to": calls[0].address,
        "calls": [fn._encode_transaction_data() for fn in calls],
    }
    done = subprocess.run(
        ["node", str(SCRIPT)],
        input=json.dumps(body),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the ethers peer failed: {done.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if result["confirmed"] != len(calls):
        raise RuntimeError(f"the ethers peer confirmed {result['confirmed']} of {len(calls)} transactions")
    return result
