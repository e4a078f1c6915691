"""A SwarmStaking event as the indexer decoded it: what the projection fold and the rewards
computation read, whatever decoded it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class DecodedEvent:
    name: str
    block_number: int
    block_hash: str
    log_index: int
    tx_hash: str
    block_time: int | None  # from the log when the node includes it, else filled from the header
    args: dict[str, Any]
