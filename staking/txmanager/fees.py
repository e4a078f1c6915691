"""EIP-1559 fees from `eth_feeHistory`, capped (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from staking.domain.errors import SwarmError

GWEI = 10**9
MIN_BUMP_NUMERATOR, MIN_BUMP_DENOMINATOR = 1125, 1000  # nodes require >= 12.5 % to replace


@dataclass(frozen=True)
class FeePolicy:
    max_fee_cap: int = 500 * GWEI  # never offer more per gas than this
    min_priority_fee: int = 1 * GWEI
    reward_percentile: int = 50
    bump_percent: int = 25  # replacement bump (>= 12.5 %)


@dataclass(frozen=True)
class Fees:
    max_fee: int
    priority_fee: int


class FeeCapExceeded(SwarmError, RuntimeError):
    pass


def fees_from_history(history: dict[str, Any], policy: FeePolicy) -> Fees:
    """Priority fee = median of recent rewards at the percentile (at least the floor); max fee =
    twice the next base fee plus the tip, so a few full blocks do not strand the transaction."""
    base_fees = [int(x, 16) if isinstance(x, str) else int(x) for x in history.get("baseFeePerGas", [])]
    next_base = base_fees[-1] if base_fees else 0
    rewards = [int(r[0], 16) if isinstance(r[0], str) else int(r[0]) for r in history.get("reward", []) if r]
    tip = max(policy.min_priority_fee, sorted(rewards)[len(rewards) // 2] if rewards else 0)
    max_fee = min(2 * next_base + tip, policy.max_fee_cap)
    if max_fee < next_base:
        raise FeeCapExceeded(f"base fee {next_base} is above the cap {policy.max_fee_cap}")
    return Fees(max_fee=max_fee, priority_fee=min(tip, max_fee))


def bumped(previous: Fees, current: Fees, policy: FeePolicy) -> Fees:
    """Fees for a replacement: at least +12.5 % on both fields (node rule), at least the market now."""
    pct = max(policy.bump_percent, 13)
    tip = max(current.priority_fee, -(-previous.priority_fee * (100 + pct) // 100))
    max_fee = max(current.max_fee, -(-previous.max_fee * (100 + pct) // 100), tip)
    if max_fee > policy.max_fee_cap:
        raise FeeCapExceeded(f"replacement would pay {max_fee} per gas, above the cap {policy.max_fee_cap}")
    return Fees(max_fee=max_fee, priority_fee=tip)
