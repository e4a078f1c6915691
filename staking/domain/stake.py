"""The class minimum a provider's active stake is measured against (the contract's `minStakeOf`)."""

from __future__ import annotations

import json


def min_stake(class_params: str | None, gpus: int) -> int | None:
    """`minStakeOf`: base + per-GPU minimum x declared GPUs, from the indexed `ClassParamsSet`
    (the stored `params` value `class.<n>`); None if the class's parameters are not indexed."""
    if class_params is None:
        return None
    c = json.loads(class_params)
    return int(c["base_min_stake"]) + int(c["per_gpu_min_stake"]) * gpus


def class_key(provider_class: int) -> str:
    """The `params` name under which the indexer stores a class's parameters."""
    return f"class.{provider_class}"
