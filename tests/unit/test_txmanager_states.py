"""The transaction intent's state machine, without a chain or a database: which moves are
allowed, when an intent is stuck, voided, failed, confirmed or reopened, and the fee rules of a
replacement."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from staking.domain.vocabulary import TxState
from staking.txmanager import states as sm
from staking.txmanager.fees import FeeCapExceeded, FeePolicy, Fees
from staking.txmanager.states import FeeCapped, Receipt, Step, TxConfig

pytestmark = pytest.mark.unit

GWEI = 10**9
SIGNER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
CLOSED = {TxState.CONFIRMED, TxState.FAILED}


def receipt(block: int = 10, status: int = 1, to: str | None = "0x" + "5f" * 20) -> Receipt:
    return Receipt(block=block, block_hash="0x" + "bb" * 32, tx_hash="0x" + "cc" * 32, status=status, to=to)


# ---------------------------------------------------------------- transitions


def test_every_state_has_its_moves_and_failed_is_final() -> None:
    assert set(sm.TRANSITIONS) == set(TxState)
    assert sm.TRANSITIONS[TxState.FAILED] == frozenset()
    assert set(sm.OPEN_STATES) == set(TxState) - CLOSED


def test_a_move_outside_the_table_is_refused() -> None:
    with pytest.raises(sm.IllegalTransition):
        sm.transition(TxState.FAILED, TxState.SENT)
    with pytest.raises(sm.IllegalTransition):
        sm.transition(TxState.SENT, TxState.VOIDING)  # only a planned payload is voided
    assert sm.transition("planned", TxState.VOIDING) is TxState.VOIDING


def test_every_open_intent_can_still_reach_a_used_nonce() -> None:
    # No state strands its nonce: from each, confirmed or failed (both: the nonce used on chain)
    # is reachable.
    for start in sm.OPEN_STATES:
        seen, todo = {start}, [start]
        while todo:
            for nxt in sm.TRANSITIONS[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        assert seen & CLOSED == CLOSED, start


# ---------------------------------------------------------------- tracking


def test_a_planned_intent_is_sent_and_a_mined_one_without_receipt_was_reorged_away() -> None:
    config = TxConfig(stuck_after=12.0)
    assert sm.track_step("planned", 5, None, 999.0, config) is Step.SEND
    assert sm.track_step("mined", 5, 9, 999.0, config) is Step.UNMINE
    assert sm.reorged_state("mined") is TxState.SENT


def test_an_intent_is_stuck_only_after_stuck_after_seconds() -> None:
    config = TxConfig(stuck_after=12.0)
    assert sm.track_step("sent", 5, 5, 11.9, config) is Step.WAIT
    assert sm.track_step("sent", 5, 5, 12.0, config) is Step.REPLACE
    assert sm.track_step("voiding", 5, None, 12.0, config) is Step.REPLACE


def test_a_used_nonce_is_looked_at_again_before_the_intent_is_judged() -> None:
    config = TxConfig(stuck_after=0.0)
    assert sm.track_step("sent", 5, 6, 100.0, config) is Step.NONCE_USED
    assert sm.track_step("sent", 5, 5, 100.0, config) is Step.REPLACE  # nonce 5 not used yet


def test_a_nonce_used_elsewhere_fails_the_intent_only_over_several_heads() -> None:
    heads: set[int] = set()
    for head in range(100, 100 + sm.CONSUMED_HEADS - 1):
        heads.add(head)
        assert not sm.consumed_elsewhere(heads)
    heads.add(100)  # the same head again proves nothing new
    assert not sm.consumed_elsewhere(heads)
    heads.add(200)
    assert sm.consumed_elsewhere(heads)


def test_send_refusals_void_the_nonce_with_a_no_op_never_fail_it() -> None:
    config = TxConfig(send_retries=3)
    assert [sm.should_void(n, config) for n in range(5)] == [False, False, False, True, True]
    assert sm.transition("planned", TxState.VOIDING) is TxState.VOIDING
    assert sm.sent_state("voiding") is TxState.VOIDING  # a sent no-op stays voiding
    assert sm.sent_state("planned") is TxState.SENT


def test_a_known_payload_or_a_used_nonce_counts_as_sent() -> None:
    assert sm.send_accepted(None)
    assert sm.send_accepted("eth_sendRawTransaction: already known")
    assert sm.send_accepted("Nonce too low")
    assert not sm.send_accepted("insufficient funds for gas * price + value")


# ---------------------------------------------------------------- receipts


def test_a_receipt_deeper_than_the_confirmations_confirms() -> None:
    r = receipt(block=10)
    assert sm.on_receipt("sent", None, r, SIGNER, head=10, confirmations=0).state is TxState.CONFIRMED
    assert sm.on_receipt("sent", None, r, SIGNER, head=11, confirmations=3).state is TxState.MINED
    done = sm.on_receipt("mined", None, r, SIGNER, head=12, confirmations=3)
    assert done.state is TxState.CONFIRMED and done.confirmed
    # A receipt newer than the head read first counts as one block deep.
    assert sm.on_receipt("sent", None, receipt(block=20), SIGNER, head=10, confirmations=1).confirmed


def test_a_reverted_receipt_or_the_no_op_fails_the_intent() -> None:
    reverted = sm.on_receipt("sent", None, receipt(status=0), SIGNER, 10, 0)
    assert (reverted.state, reverted.error) == (TxState.FAILED, sm.REVERTED_ERROR)
    no_op = sm.on_receipt("voiding", sm.REFUSED_ERROR, receipt(to=SIGNER.lower()), SIGNER, 10, 0)
    assert (no_op.state, no_op.error) == (TxState.FAILED, sm.REFUSED_ERROR)


def test_the_original_call_mined_before_its_no_op_is_a_success() -> None:
    outcome = sm.on_receipt("voiding", sm.REFUSED_ERROR, receipt(), SIGNER, 10, 0)
    assert outcome.state is TxState.CONFIRMED and outcome.clear_error


def test_a_block_that_left_the_canonical_chain_reopens_the_intent() -> None:
    mined = "0x" + "bb" * 32
    assert sm.left_canonical_chain(10, mined, head=12, canonical="0x" + "dd" * 32)
    assert sm.left_canonical_chain(10, mined, head=12, canonical=None)
    assert not sm.left_canonical_chain(10, mined, head=12, canonical=mined)
    assert not sm.left_canonical_chain(13, mined, head=12, canonical=None)  # newer than the head read
    assert sm.reorged_state("confirmed") is TxState.SENT


# ---------------------------------------------------------------- fees

fees_st = st.builds(
    lambda max_fee, tip: Fees(max_fee=max(max_fee, tip), priority_fee=tip),
    st.integers(1, 2_000 * GWEI),
    st.integers(0, 500 * GWEI),
)
policy_st = st.builds(
    FeePolicy,
    max_fee_cap=st.integers(1, 2_000 * GWEI),
    bump_percent=st.integers(0, 200),
)


@given(previous=fees_st, market=fees_st, policy=policy_st)
def test_a_replacement_bumps_both_fees_by_at_least_an_eighth_and_never_passes_the_cap(
    previous: Fees, market: Fees, policy: FeePolicy
) -> None:
    result = sm.replacement_fees(previous, market, policy)
    if isinstance(result, FeeCapped):
        assert result.cap == policy.max_fee_cap
        assert result.wanted_max_fee is not None and result.wanted_max_fee > policy.max_fee_cap
        return
    assert result.max_fee * 1000 >= previous.max_fee * 1125
    assert result.priority_fee * 1000 >= previous.priority_fee * 1125
    assert result.max_fee >= market.max_fee and result.priority_fee >= market.priority_fee
    assert result.priority_fee <= result.max_fee <= policy.max_fee_cap


def test_a_replacement_above_the_cap_is_fee_capped_with_what_it_would_need() -> None:
    policy = FeePolicy(max_fee_cap=3 * GWEI, bump_percent=25)
    capped = sm.replacement_fees(Fees(3 * GWEI, GWEI), Fees(3 * GWEI, GWEI), policy)
    assert capped == FeeCapped(3 * GWEI, 3_750_000_000, capped.reason)  # type: ignore[union-attr]
    market_above = sm.replacement_fees(Fees(GWEI, GWEI), FeeCapExceeded("base fee above"), policy)
    assert isinstance(market_above, FeeCapped) and market_above.wanted_max_fee is None


def test_only_jail_keys_are_isolations() -> None:
    assert sm.is_isolation("jail:0x" + "ab" * 32)
    assert not sm.is_isolation("propose_slash:0x" + "ab" * 32)
    assert sm.action_kind("publish_epoch:7:after:3") == "publish_epoch"


def test_the_fee_capped_event_names_the_intent_and_its_fees_but_no_payload() -> None:
    intent = {
        "idempotency_key": "jail:0x" + "ab" * 32,
        "signer": SIGNER,
        "nonce": 7,
        "tx_hash": "0x" + "cc" * 32,
        "attempts": 3,
        "created_ms": 1_000_000,
        "sent_ms": 1_030_000,
        "data": "0xdeadbeef",
    }
    last = {"max_fee": 3 * GWEI, "priority_fee": GWEI, "raw_tx": "0x02f8secret"}
    data = sm.fee_capped_event(intent, last, FeeCapped(3 * GWEI, 3_750_000_000, "cap"), now_ms=1_090_000)
    assert data["key"] == intent["idempotency_key"] and data["action"] == "jail" and data["isolation"]
    assert (data["nonce"], data["tx_hash"], data["max_fee"], data["priority_fee"]) == (
        7,
        intent["tx_hash"],
        3 * GWEI,
        GWEI,
    )
    assert (data["wanted_max_fee"], data["max_fee_cap"]) == (3_750_000_000, 3 * GWEI)
    assert (data["age_seconds"], data["waiting_seconds"]) == (90, 60)
    assert "0x02f8secret" not in repr(data) and "0xdeadbeef" not in repr(data)


# ---------------------------------------------------------------- no nonce left unfilled

observation = st.sampled_from(["refused", "accepted", "no_receipt", "receipt_ok", "receipt_reverted",
                               "nonce_used_elsewhere", "reorg"])  # fmt: skip


@given(st.lists(observation, max_size=40), st.integers(1, 5))
def test_no_sequence_of_observations_closes_an_intent_whose_nonce_is_unused(
    events: list[str], retries: int
) -> None:
    """A walk through the decisions: an intent only closes once its nonce is used on chain (a
    receipt, or another sender's transaction seen over CONSUMED_HEADS heads), every move is in
    TRANSITIONS, and refusals lead to a no-op rather than an abandoned nonce."""
    config = TxConfig(send_retries=retries, stuck_after=0.0)
    state, refusals, heads, head, nonce_used = TxState.PLANNED, 0, set(), 100, False
    for event in events:
        head += 1
        before = state
        if state is TxState.FAILED:
            break
        if event == "reorg" and state in (TxState.MINED, TxState.CONFIRMED):
            state, nonce_used = sm.reorged_state(state), False
        elif event in ("receipt_ok", "receipt_reverted") and state in sm.OPEN_STATES:
            r = receipt(block=head, status=int(event == "receipt_ok"))
            state, nonce_used = sm.on_receipt(state, None, r, SIGNER, head, 0).state, True
        elif state is TxState.PLANNED and event in ("refused", "accepted"):
            refusals += event == "refused"
            if event == "accepted":
                state = sm.sent_state(state)
            elif sm.should_void(refusals, config):
                state = sm.transition(state, TxState.VOIDING)
        elif state in (TxState.SENT, TxState.VOIDING) and event == "nonce_used_elsewhere":
            assert sm.track_step(state, 5, 6, 0.0, config) is Step.NONCE_USED
            heads.add(head)
            if sm.consumed_elsewhere(heads):
                state, nonce_used = sm.transition(state, TxState.FAILED), True
        assert state in sm.TRANSITIONS[before] or state is before
        if state in CLOSED:
            assert nonce_used, (before, event, state)
        assert state is not TxState.FAILED or before is not TxState.PLANNED or nonce_used
