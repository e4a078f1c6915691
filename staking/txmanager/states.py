"""The transaction intent's state machine, pure: no web3, no SQL, no clock.

An intent (one per idempotency key) holds one nonce of the signer from the moment it is planned.
Only two things close it, and both mean the nonce is used on chain: a receipt of one of its
payloads (`confirmed`, or `failed` when it reverted or was the no-op), or the nonce used by a
transaction this service did not send, seen at CONSUMED_HEADS heads in a row (`failed`). A payload
the node refuses is never given up: the nonce is filled with a no-op (`voiding`). So no decision
here leaves a nonce unfilled, and later nonces are never stranded.

The manager (`staking.txmanager.manager`) observes the chain and the database and asks this module
what to do; `TRANSITIONS` is every move it may make.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from staking.domain.errors import SwarmError
from staking.domain.vocabulary import ActionKind, TxState
from staking.txmanager.fees import FeeCapExceeded, FeePolicy, Fees, bumped

OPEN_STATES: tuple[TxState, ...] = (TxState.PLANNED, TxState.SENT, TxState.MINED, TxState.VOIDING)

# Every move an intent may make. `confirmed` reopens when its block leaves the canonical chain;
# `failed` is final.
TRANSITIONS: Mapping[TxState, frozenset[TxState]] = {
    TxState.PLANNED: frozenset(
        {TxState.SENT, TxState.VOIDING, TxState.MINED, TxState.CONFIRMED, TxState.FAILED}
    ),
    TxState.SENT: frozenset({TxState.SENT, TxState.MINED, TxState.CONFIRMED, TxState.FAILED}),
    TxState.VOIDING: frozenset({TxState.VOIDING, TxState.MINED, TxState.CONFIRMED, TxState.FAILED}),
    TxState.MINED: frozenset({TxState.MINED, TxState.SENT, TxState.CONFIRMED, TxState.FAILED}),
    TxState.CONFIRMED: frozenset({TxState.SENT}),
    TxState.FAILED: frozenset(),
}

# Heads in a row at which a nonce must look used by someone else before its intent fails.
CONSUMED_HEADS = 3
CONSUMED_ERROR = "nonce consumed by a transaction this service did not send"
REFUSED_ERROR = "the node refused the payload"
REVERTED_ERROR = "reverted on chain"
NO_OP_GAS = 21_000  # a 0-value self-transfer


class IllegalTransition(SwarmError, ValueError):
    """A move `TRANSITIONS` does not allow: a bug in the manager, never a chain condition."""


def transition(current: str, target: TxState) -> TxState:
    """`target`, if an intent in `current` may move there; raises IllegalTransition otherwise."""
    if target not in TRANSITIONS[TxState(current)]:
        raise IllegalTransition(f"a transaction intent cannot move from {current} to {target}")
    return target


@dataclass(frozen=True)
class TxConfig:
    confirmations: int = 0
    stuck_after: float = 12.0  # seconds without a receipt before a fee-bumped replacement
    send_retries: int = 3  # node refusals before the nonce is filled with a no-op
    reorg_window: int = 64  # blocks within which confirmed intents are re-checked
    gas_margin_percent: int = 25
    # Added to every limit: the state moves between simulation and inclusion, and the costliest
    # move the contract knows is a new cap bucket, whose first writes fill fresh storage slots
    # (~55k more than the estimate of the same call in a written bucket). Unused gas is not paid.
    gas_headroom: int = 45_000
    fees: FeePolicy = field(default_factory=FeePolicy)


def action_kind(key: str) -> str:
    """The action an idempotency key is for: `jail` of `jail:<verdict id>`."""
    return key.split(":", 1)[0]


def is_isolation(key: str) -> bool:
    """Whether the intent isolates a provider (a `jail`, key `jail:<verdict id>`)."""
    return action_kind(key) == ActionKind.JAIL


# ---------------------------------------------------------------- sending


def send_accepted(error: str | None) -> bool:
    """Whether a send counts as done: no error, or the node already has the payload or its nonce
    is already used (the receipt lookup finds out which payload was mined)."""
    if error is None:
        return True
    message = error.lower()
    return "already known" in message or "nonce too low" in message


def sent_state(current: str) -> TxState:
    """The state of an intent whose payload the node accepted: a no-op stays `voiding`."""
    return transition(current, TxState.VOIDING if current == TxState.VOIDING else TxState.SENT)


def should_void(refusals: int, config: TxConfig) -> bool:
    """A planned payload the node refused this often is replaced by a no-op on the same nonce."""
    return refusals >= config.send_retries


# ---------------------------------------------------------------- tracking


class Step(StrEnum):
    """What to do with an open intent that has no receipt at this head."""

    SEND = "send"  # planned: send the recorded payload (again)
    UNMINE = "unmine"  # mined, but the receipt is gone (its block was reorged away): sent, resend
    NONCE_USED = "nonce_used"  # the nonce is used on chain: look for our receipt once more
    REPLACE = "replace"  # stuck: the same call with the same nonce and bumped fees
    WAIT = "wait"


def track_step(state: str, nonce: int, latest_nonce: int | None, waited_s: float, config: TxConfig) -> Step:
    """`latest_nonce` is the signer's nonce at the latest block (None: not read); `waited_s` the
    seconds since the intent was last sent (or planned)."""
    if state == TxState.PLANNED:
        return Step.SEND
    if state == TxState.MINED:
        return Step.UNMINE
    if latest_nonce is not None and latest_nonce > nonce:
        return Step.NONCE_USED
    return Step.REPLACE if waited_s >= config.stuck_after else Step.WAIT


def consumed_elsewhere(heads_seen: frozenset[int] | set[int]) -> bool:
    """The nonce looked used without a receipt of ours at this many heads: someone else used it.
    Failing is final, so a single observation (a reorg between the nonce read and the receipt
    lookup) is not enough."""
    return len(heads_seen) >= CONSUMED_HEADS


@dataclass(frozen=True)
class Receipt:
    block: int
    block_hash: str
    tx_hash: str
    status: int
    to: str | None


@dataclass(frozen=True)
class Recorded:
    """What a receipt makes of an intent."""

    state: TxState
    error: str | None  # the error to record when failed
    clear_error: bool = False  # the original call was mined before its no-op: not an error
    confirmed: bool = False


def on_receipt(
    state: str, error: str | None, receipt: Receipt, signer: str, head: int, confirmations: int
) -> Recorded:
    """A receipt of one of the intent's payloads, at chain head `head`."""
    voided = state == TxState.VOIDING and (receipt.to or "").lower() == signer.lower()
    if voided or receipt.status != 1:
        return Recorded(transition(state, TxState.FAILED), error or REVERTED_ERROR)
    depth = max(head, receipt.block) - receipt.block + 1  # the receipt may be newer than the head
    if depth >= max(1, confirmations):
        return Recorded(
            transition(state, TxState.CONFIRMED), None, clear_error=state == TxState.VOIDING, confirmed=True
        )
    return Recorded(transition(state, TxState.MINED), None, clear_error=state == TxState.VOIDING)


def left_canonical_chain(mined_block: int, mined_hash: str | None, head: int, canonical: str | None) -> bool:
    """Whether a confirmed intent's block is no longer the chain's block at that height
    (`canonical`: the hash the node has there now). A block above `head` is not judged: it was
    mined after the head this pass read."""
    return mined_block <= head and canonical != mined_hash


def reorged_state(current: str) -> TxState:
    """A confirmed (or mined) intent whose block left the chain is tracked again as sent."""
    return transition(current, TxState.SENT)


# ---------------------------------------------------------------- fees


@dataclass(frozen=True)
class FeeCapped:
    """A replacement would have to pay more per gas than the fee policy allows."""

    cap: int
    wanted_max_fee: int | None  # None: the market's base fee alone is above the cap
    reason: str


def replacement_fees(previous: Fees, market: Fees | FeeCapExceeded, policy: FeePolicy) -> Fees | FeeCapped:
    """Fees for a replacement of a payload sent with `previous`: at least +12.5 % on both fields
    and at least the market (`market`: the market's fees, or why they are above the cap), never
    above the cap: FeeCapped then, as the intent cannot be bumped further."""
    if isinstance(market, FeeCapExceeded):
        return FeeCapped(policy.max_fee_cap, None, str(market))
    try:
        return bumped(previous, market, policy)
    except FeeCapExceeded as exc:
        wanted = bumped(previous, market, dataclasses.replace(policy, max_fee_cap=2**256))
        return FeeCapped(policy.max_fee_cap, wanted.max_fee, str(exc))


def fee_capped_event(
    intent: Mapping[str, Any], last: Mapping[str, Any], capped: FeeCapped, now_ms: int
) -> dict[str, Any]:
    """The `tx_fee_capped` webhook's data for an intent (a `tx_intents` row) whose latest payload
    (`last`, its `tx_attempts` row) cannot be replaced: which intent, its nonce and hash, the fees
    it pays and would need (wei per gas), and how long it has waited. No payload bytes, no secrets."""
    key = intent["idempotency_key"]
    return {
        "key": key,
        "action": action_kind(key),
        "isolation": is_isolation(key),
        "signer": intent["signer"],
        "nonce": intent["nonce"],
        "tx_hash": intent["tx_hash"],
        "attempts": intent["attempts"],
        "max_fee": int(last["max_fee"]),
        "priority_fee": int(last["priority_fee"]),
        "wanted_max_fee": capped.wanted_max_fee,
        "max_fee_cap": capped.cap,
        "age_seconds": (now_ms - intent["created_ms"]) // 1000,
        "waiting_seconds": (now_ms - (intent["sent_ms"] or intent["created_ms"])) // 1000,
    }
