"""A provider's rewards as of the latest computed epoch, from its stored weight row: pure (the
provider document builds it; the queries that read the rows live elsewhere)."""

from __future__ import annotations

import json
from typing import Any

from staking.domain.reasons import Ineligible

NO_EPOCH = "no epoch computed yet"
NOT_IN_SET = Ineligible.NOT_IN_SET.sentence


def reasons_of(row: Any) -> list[str]:
    return [str(reason) for reason in json.loads(row.reasons)]


def summarize(epochs: list[tuple[int, Any | None]], current_epoch: int | None) -> dict[str, Any]:
    """A provider's rewards as of the most recent computed epoch not after `current_epoch` (any,
    when None): `{"epoch", "eligible", "reasons", "weight"}`, `weight` a decimal string of the
    stored weight. Without such an epoch: `epoch` null, not eligible, reason "no epoch computed
    yet"; absent from that epoch's weights: not eligible, "not in the epoch's provider set".

    `epochs`: `(epoch, the provider's `reward_weights` row or None)`, newest first."""
    for epoch, row in epochs:
        if current_epoch is not None and epoch > current_epoch:
            continue
        if row is None:
            return {"epoch": epoch, "eligible": False, "reasons": [NOT_IN_SET], "weight": None}
        return {
            "epoch": epoch,
            "eligible": bool(row.eligible),
            "reasons": reasons_of(row),
            "weight": str(row.weight),
        }
    return {"epoch": None, "eligible": False, "reasons": [NO_EPOCH], "weight": None}
