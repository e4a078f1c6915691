"""The trail's line format, pure: each line is one JSON object (sorted keys, no spaces) whose `prev`
is the sha256 of the previous line's bytes; the first line describes the deployment and its
`prev` is the sha256 of that description, so a trail is anchored to one contract on one chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import Any

VERSION = 1


def encode(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def anchor(chain_id: int, staking: str, deployed_block: int) -> dict[str, Any]:
    """The first line's content (without `n` and `prev`)."""
    return {
        "kind": "deployment",
        "version": VERSION,
        "chain_id": chain_id,
        "staking": staking.lower(),
        "deployed_block": deployed_block,
    }


def anchor_hash(first: dict[str, Any]) -> str:
    return sha256(
        encode({k: first.get(k) for k in ("kind", "version", "chain_id", "staking", "deployed_block")})
    )


def chain(records: Iterable[dict[str, Any]]) -> Iterator[str]:
    """The lines of `records` (the first must be an `anchor`), each with `n` and `prev`."""
    prev: str | None = None
    for n, record in enumerate(records):
        line = encode({**record, "n": n, "prev": anchor_hash(record) if prev is None else prev})
        prev = sha256(line)
        yield line
