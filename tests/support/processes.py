"""Processes and databases for the crash and CLI tests: another fresh database, a dumped
provisioned Anvil state and an Anvil started from it, the CLI's environment."""

from __future__ import annotations

import contextlib
import gzip
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

from web3 import Web3

from staking.chain.connect import wait_for_rpc
from staking.config import REPO_ROOT
from staking.db.engine import upgrade
from staking.deployment import Deployment
from staking.devnet.node import LocalNode, _command, _terminate, free_port
from staking.devnet.provision import provision_devnet

# ------------------------------------------------------------------------------------------ plumbing


@contextlib.contextmanager
def fresh_database(like: str, directory: Path) -> Iterator[str]:
    """Another fresh, migrated database of the same kind as `like` (dropped afterwards on PostgreSQL)."""
    if like.startswith("sqlite"):
        url = f"sqlite:///{directory / f'extra-{uuid.uuid4().hex[:8]}.db'}"
        upgrade(url)
        yield url
        return
    from tests.conftest import fresh_pg_database

    with fresh_pg_database() as url:
        yield url


def dump_provisioned_state(path: Path) -> Deployment:
    """Provision a throwaway Anvil like the devnet and write its full state (blocks and logs
    included) to `path` for `anvil --load-state`. Returns its deployment."""
    with LocalNode.start("anvil") as node:
        deployment = provision_devnet(node.w3, node.rpc_url)
        dumped = node.w3.provider.make_request("anvil_dumpState", [])  # type: ignore[arg-type]
    path.write_bytes(gzip.decompress(bytes.fromhex(dumped["result"][2:])))
    return deployment


@contextlib.contextmanager
def anvil_from_state(state: Path, port: int | None = None) -> Iterator[tuple[Web3, str]]:
    """An Anvil that starts already holding `state` (on `port`, or a free one); stopped afterwards."""
    port = port or free_port()
    process = subprocess.Popen(
        [*_command("anvil", port), "--load-state", str(state)], cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        yield wait_for_rpc(url, timeout=30), url
    finally:
        _terminate(process)


def cli_env(db_url: str, deployment: Path, rpc_url: str) -> dict[str, str]:
    # No COLUMNS/LINES: the CLI's output must not depend on the caller's terminal size.
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("SWARM_") and k not in ("COLUMNS", "LINES")
    }
    env |= {"SWARM_DATABASE_URL": db_url, "SWARM_DEPLOYMENT": str(deployment), "SWARM_RPC_URL": rpc_url,
            "SWARM_LOG_JSON": "true"}  # fmt: skip
    return env
