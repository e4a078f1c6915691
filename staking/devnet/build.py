"""Compile the contracts with Hardhat (solcjs, offline) when the sources changed."""

from __future__ import annotations

import os
import subprocess

from staking.config import REPO_ROOT
from staking.devnet.node import NODE_BIN
from staking.domain.errors import SwarmError

CONTRACTS = REPO_ROOT / "contracts"
ARTIFACTS = REPO_ROOT / "artifacts"


class BuildError(SwarmError, RuntimeError):
    pass


def needs_build() -> bool:
    sources = list(CONTRACTS.rglob("*.sol"))
    outputs = [ARTIFACTS / s.relative_to(REPO_ROOT) / f"{s.stem}.json" for s in sources]
    if not all(o.exists() for o in outputs):
        return True
    newest_source = max(s.stat().st_mtime for s in sources)
    return newest_source > min(o.stat().st_mtime for o in outputs)


def ensure_compiled() -> bool:
    """Runs `hardhat build` if needed; returns whether it compiled."""
    if not needs_build():
        return False
    hardhat = NODE_BIN / "hardhat"
    if not hardhat.exists():
        raise BuildError(f"{hardhat} not found: run `make setup` (npm install) first")
    env = dict(os.environ, PATH=f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    result = subprocess.run(
        [str(hardhat), "build"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BuildError(f"contract compilation failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return True
