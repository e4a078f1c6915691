"""The transaction manager's fee rules: fees follow the market under the cap, and a replacement
bumps them by at least 12.5 %."""

from __future__ import annotations

import pytest

from staking.txmanager.fees import FeeCapExceeded, FeePolicy, Fees, bumped, fees_from_history

pytestmark = pytest.mark.unit


GWEI = 10**9


def test_fees_follow_the_market_and_respect_the_cap() -> None:
    history = {"baseFeePerGas": ["0x3b9aca00", "0x3b9aca00"], "reward": [["0x77359400"], ["0x3b9aca00"]]}
    fees = fees_from_history(history, FeePolicy())
    assert fees.max_fee == 2 * GWEI + fees.priority_fee and fees.priority_fee >= GWEI
    with pytest.raises(FeeCapExceeded):
        fees_from_history({"baseFeePerGas": [hex(600 * GWEI)], "reward": []}, FeePolicy())


def test_replacement_fees_rise_at_least_twelve_and_a_half_percent() -> None:
    prev = Fees(max_fee=10 * GWEI, priority_fee=2 * GWEI)
    new = bumped(prev, Fees(max_fee=1, priority_fee=1), FeePolicy(bump_percent=0))
    assert new.max_fee * 1000 >= prev.max_fee * 1125 and new.priority_fee * 1000 >= prev.priority_fee * 1125
    with pytest.raises(FeeCapExceeded):
        bumped(Fees(max_fee=450 * GWEI, priority_fee=GWEI), prev, FeePolicy())
