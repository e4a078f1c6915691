"""Performance report batches: EIP-712 round trip, and a 422-style error naming every bad field."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account

from staking.domain.vocabulary import Address
from staking.performance import (
    MAX_REPORTS,
    InvalidPerformanceBody,
    PerformanceBatch,
    ProviderReport,
    parse_batch,
    recover_batch_signer,
    sign_batch,
    to_wire,
)
from staking.rewards.eligibility import PerformanceReport
from staking.verdict import Domain

pytestmark = pytest.mark.unit
DOMAIN = Domain(chain_id=31337, verifying_contract=Address("0x" + "11" * 20))
KEY = "0x" + "42" * 32
P1, P2 = "0x" + "a1" * 20, "0x" + "b2" * 20


def batch(epoch: int = 7) -> PerformanceBatch:
    r = PerformanceReport(uptime_bps=9_990, response_ms_p50=120, error_rate_bps=10, rating_bps=9_000)
    return PerformanceBatch(
        b"\x05" * 32,
        epoch,
        (ProviderReport(Address(Account.from_key(KEY).address), r), ProviderReport(Address(P1.lower()), r)),
    )


def test_a_signed_batch_round_trips_through_its_wire_form() -> None:
    b = batch()
    body = to_wire(b, sign_batch(b, DOMAIN, KEY))
    parsed, signature = parse_batch(body)
    assert parsed.epoch == 7 and len(parsed.reports) == 2
    assert recover_batch_signer(parsed, DOMAIN, signature) == Account.from_key(KEY).address
    assert parsed.content_hash() == b.content_hash()
    other = PerformanceBatch(b.id, 8, b.reports)
    assert recover_batch_signer(other, DOMAIN, signature) != Account.from_key(KEY).address
    assert other.content_hash() != b.content_hash()


def fields(body: Any) -> set[str]:
    with pytest.raises(InvalidPerformanceBody) as exc:
        parse_batch(body)
    return {e["field"] for e in exc.value.errors}


def test_every_bad_field_is_named() -> None:
    good = to_wire(batch(), b"\x01" * 65)
    assert fields(dict(good, id="0x12")) == {"id"}
    assert fields(dict(good, epoch=-1)) == {"epoch"}
    assert fields(dict(good, epoch=True)) == {"epoch"}
    assert fields(dict(good, signature="0x00")) == {"signature"}
    assert fields(dict(good, extra=1)) == {"extra"}
    assert fields(dict(good, reports=[])) == {"reports"}
    assert fields(dict(good, reports=[{"provider": P1}] * (MAX_REPORTS + 1))) == {"reports"}
    r = dict(good["reports"][0])
    assert fields(dict(good, reports=[dict(r, uptime_bps=10_001)])) == {"reports[0].uptime_bps"}
    assert fields(dict(good, reports=[dict(r, response_ms_p50=-5)])) == {"reports[0].response_ms_p50"}
    assert fields(dict(good, reports=[r, r])) == {"reports[1].provider"}
    assert fields(dict(good, reports=[dict(r, provider=P2.upper().replace("0X", "0x"))])) == {
        "reports[0].provider"
    }
    assert fields([]) == {"body"}
