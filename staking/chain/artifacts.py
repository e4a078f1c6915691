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
def load_artifact(name: str, artifacts_dir: Path = DEFAULT_ARTIFACTS) -> Artifact:
    path = artifacts_dir / "contracts" / f"{name}.sol" / f"{name}.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactMissing(f"{path} not found: compile the contracts first (`make compile`)") from None
    return Artifact(
        name=name, abi=data["abi"], bytecode=data["bytecode"], link_references=data.get("linkReferences", {})
    )
