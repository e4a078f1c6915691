"""ABIs and bytecode from the Hardhat build (`artifacts/`): the one place they are loaded."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from staking.domain.errors import SwarmError

# The repository's Hardhat build (this file is staking/chain/artifacts.py); Settings.artifacts_dir
# overrides it for the processes that load contracts.
DEFAULT_ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
# Safe's own compiled artifacts, as the npm package @safe-global/safe-contracts ships them (used as is).
SAFE_ARTIFACTS = (
    Path(__file__).resolve().parents[2]
    / "node_modules"
    / "@safe-global"
    / "safe-contracts"
    / "build"
    / "artifacts"
)


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    # {source: {library: [{"start": byte offset, "length": 20}, ...]}} of `bytecode`'s placeholders
    link_references: dict[str, dict[str, list[dict[str, int]]]] = field(default_factory=dict)


class ArtifactMissing(SwarmError, RuntimeError):
    pass


@lru_cache(maxsize=16)
def load_artifact(name: str, artifacts_dir: Path = DEFAULT_ARTIFACTS, source: str | None = None) -> Artifact:
    """`name`'s artifact under `artifacts_dir`; `source` is its source file's path there when that
    is not `contracts/<name>.sol` (a contract from a package, or from a sub-folder)."""
    path = artifacts_dir / (source or f"contracts/{name}.sol") / f"{name}.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactMissing(f"{path} not found: run `make setup` (npm ci + compile) first") from None
    return Artifact(
        name=name, abi=data["abi"], bytecode=data["bytecode"], link_references=data.get("linkReferences", {})
    )
