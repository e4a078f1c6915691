"""Containing a detector in one go (`swarm-staking detector revoke`, SPEC section 8): executing
the plan of `staking.worker.containment`.

1. `record`: in one database transaction, the revocation row (the intake refuses the signer from
   that instant, before anything is mined), the detector's unsent actions `skipped` ("detector
   revoked"), the verdicts the containment undoes `rejected` (no longer strikes), and the
   `detector_revoked` webhook in the outbox;
2. `calls`: `revokeDetector(account)` first (once mined, the contract refuses the
   detector's signatures too), then `vetoSlashes` and `liftJails` in batches of `BATCH`;
3. `send`: every transaction signed and sent back to back from the council's key (nonces
   counted locally), then all receipts awaited; what the receipts' `SlashVetoed` and `JailLifted`
   logs say is the outcome;
4. `contain` runs all of it, then plans again and sends what a transaction still in flight at
   the first plan (a jail or a slash the executor sent meanwhile) added.

`simulate` runs the calls with `eth_estimateGas` from the signer, in one JSON-RPC batch: the
dry run, and the check before sending.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, select, update
from web3 import Web3

from staking.chain.rpc import RawRpc, RpcError
from staking.chain.sender import Sender, TransactionFailed, with_margin
from staking.db import schema as t
from staking.domain.clock import iso_ms
from staking.domain.errors import SwarmError
from staking.domain.vocabulary import ActionState, VerdictStatus
from staking.worker.containment import CANCEL_NOTE, UNSENT, Plan, batches, own_verdicts, plan_revocation

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
    from web3.contract.contract import ContractFunction
    from web3.types import TxReceipt

    from staking.chain.contracts import StakingContract

SLASH_VETOED = "0x" + Web3.keccak(text="SlashVetoed(bytes32,address,address,bytes32)").hex().removeprefix(
    "0x"
)
JAIL_LIFTED = "0x" + Web3.keccak(text="JailLifted(address,address,bytes32)").hex().removeprefix("0x")
Record = Callable[[Connection, str, dict[str, Any]], None]  # the webhook outbox's `record`


class ContainmentFailed(SwarmError, RuntimeError):
    """A containment transaction could not be simulated, sent or mined."""


@dataclass(frozen=True)
class Options:
    veto_pending: bool = False
    release_jails: bool = False
    reason: str = ""  # its keccak256 goes on chain as reasonHash; kept with the revocation
    revoked_by: str | None = None  # who revokes (the governance signer's address)

    def reason_text(self, account: str) -> str:
        return self.reason.strip() or f"detector {account} revoked"

    def reason_hash(self, account: str) -> bytes:
        return bytes(Web3.keccak(text=self.reason_text(account)))


@dataclass(frozen=True)
class Call:
    label: str
    fn: ContractFunction
    size: int = 0  # ids or providers in the batch
    verb: str = ""  # what the batch does to each: "veto", "lift"


@dataclass(frozen=True)
class Simulation:
    call: Call
    gas: int | None
    error: RpcError | None = None
    effect: int | None = None  # slashes vetoed / jails lifted, as simulated (None: not a batch)

    @property
    def needed(self) -> bool:
        """False for a batch that would veto or lift nothing (all done already)."""
        return self.effect is None or self.effect > 0


@dataclass
class Outcome:
    account: str
    revoked_ms: int
    cancelled: int = 0
    rejected: int = 0
    role_revoked: bool = False
    vetoed: list[str] = field(default_factory=list)
    vetoed_amount: int = 0
    lifted: list[str] = field(default_factory=list)
    receipts: list[tuple[str, TxReceipt]] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "revoked_at": iso_ms(self.revoked_ms),
            "role_revoked": self.role_revoked,
            "cancelled_actions": self.cancelled,
            "rejected_verdicts": self.rejected,
            "vetoed_slashes": len(self.vetoed),
            "vetoed_amount": str(self.vetoed_amount),
            "lifted_jails": len(self.lifted),
            "transactions": [r["transactionHash"].to_0x_hex() for _, r in self.receipts],
            "seconds": round(self.seconds, 3),
        }


# ------------------------------------------------------------------------------------ the database


def record(
    engine: Engine, plan: Plan, options: Options, now_ms: int, outbox: Record | None = None
) -> tuple[int, int, int]:
    """Revocation row, unsent actions skipped, undone verdicts rejected and the webhook, in one
    transaction. Returns (revoked_ms, actions cancelled, verdicts rejected). Revoking again keeps
    the first revocation's time."""
    r = t.detector_revocations
    account = plan.account
    with engine.begin() as conn:
        revoked_ms = plan.revoked_ms
        if revoked_ms is None:
            revoked_ms = now_ms
            note = options.reason_text(account)
            conn.execute(
                r.insert().values(
                    account=account, revoked_ms=now_ms, revoked_by=options.revoked_by, note=note
                )
            )
        cancelled = conn.execute(
            update(t.actions)
            .where(t.actions.c.state.in_(UNSENT), t.actions.c.verdict_id.in_(own_verdicts(account)))
            .values(state=ActionState.SKIPPED.value, note=CANCEL_NOTE)
        ).rowcount
        # Verdicts whose actions this revocation cancelled (also those taken in since the plan),
        # then those whose slash or jail it undoes.
        a = t.actions.c
        cancelled_here = select(a.verdict_id).where(
            a.state == ActionState.SKIPPED.value, a.note == CANCEL_NOTE
        )
        rejected = conn.execute(
            update(t.verdicts)
            .where(
                t.verdicts.c.id.in_(own_verdicts(account)),
                t.verdicts.c.id.in_(cancelled_here),
                t.verdicts.c.status != VerdictStatus.REJECTED.value,
            )
            .values(status=VerdictStatus.REJECTED.value, updated_ms=now_ms)
        ).rowcount
        for chunk in batches(sorted(plan.rejects(options.veto_pending, options.release_jails)), 500):
            rejected += conn.execute(
                update(t.verdicts)
                .where(t.verdicts.c.id.in_(chunk), t.verdicts.c.status != VerdictStatus.REJECTED.value)
                .values(status=VerdictStatus.REJECTED.value, updated_ms=now_ms)
            ).rowcount
        if outbox is not None:
            outbox(
                conn,
                "detector_revoked",
                {
                    "account": account,
                    "revoked_at": iso_ms(revoked_ms),
                    "revoked_by": options.revoked_by,
                    "reason": options.reason_text(account),
                    "cancelled_actions": cancelled,
                    "slashes_to_veto": len(plan.slashes) if options.veto_pending else 0,
                    "jails_to_lift": len(plan.jails) if options.release_jails else 0,
                },
            )
    return revoked_ms, cancelled, rejected


# ------------------------------------------------------------------------------------ the chain


def calls(staking: StakingContract, plan: Plan, options: Options, revoke_role: bool) -> list[Call]:
    """The transactions of `plan`, in sending order: the role first."""
    reason = options.reason_hash(plan.account)
    out: list[Call] = []
    if revoke_role:
        # The council's own revocation (VETOER_ROLE): no admin key, and no timelock in the Safe shape.
        out.append(Call(f"revokeDetector({plan.account})", staking.revoke_detector(plan.account)))
    if options.veto_pending:
        for chunk in batches(s.id for s in plan.slashes):
            ids = [bytes.fromhex(i[2:]) for i in chunk]
            out.append(
                Call(f"vetoSlashes({len(ids)} ids)", staking.veto_slashes(ids, reason), len(ids), "veto")
            )
    if options.release_jails:
        for chunk in batches(plan.jails):
            out.append(
                Call(
                    f"liftJails({len(chunk)} providers)",
                    staking.lift_jails(chunk, reason),
                    len(chunk),
                    "lift",
                )
            )
    return out


def _tx(staking: StakingContract, sender: str, fn: ContractFunction) -> dict[str, str]:
    return {"from": sender, "to": staking.address, "data": fn._encode_transaction_data()}


def simulate(w3: Web3, staking: StakingContract, sender: str, todo: list[Call]) -> list[Simulation]:
    """`eth_call` and `eth_estimateGas` of every call from `sender` (one batch): its gas and, for
    a batch, how many it would veto or lift (`vetoSlashes` and `liftJails` skip what is done
    already); or the revert."""
    requests: list[tuple[str, list[Any]]] = []
    for c in todo:
        tx = _tx(staking, sender, c.fn)
        requests += [("eth_call", [tx, "latest"]), ("eth_estimateGas", [tx, "latest"])]
    results = RawRpc(w3).batch(requests)
    out = []
    for i, c in enumerate(todo):
        returned, gas = results[2 * i], results[2 * i + 1]
        error = next((r for r in (returned, gas) if isinstance(r, RpcError)), None)
        if error is not None:
            out.append(Simulation(c, None, error))
            continue
        effect = int(returned, 16) if c.size and len(returned) > 2 else None
        out.append(Simulation(c, int(gas, 16), effect=effect))
    return out


def send(
    w3: Web3, signer: LocalAccount, simulations: list[Simulation], timeout: float = 300.0
) -> list[tuple[str, TxReceipt]]:
    """Send every simulated call back to back, then wait for all of them."""
    sender = Sender(w3, signer)
    pending = []
    try:
        for s in simulations:
            assert s.gas is not None
            pending.append(sender.send(s.call.fn, label=s.call.label, gas=with_margin(s.gas)))
        return [(p.label, sender.wait(p, timeout)) for p in pending]
    except TransactionFailed as exc:
        raise ContainmentFailed(str(exc)) from exc
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise ContainmentFailed(f"sending failed: {type(exc).__name__}: {first}") from exc


def slash_amounts(w3: Web3, staking: StakingContract, ids: list[str]) -> dict[str, int]:
    """The proposed amount of each slash, as the contract holds it (`getSlash`, batched)."""
    from eth_abi import decode
    from eth_utils.abi import get_abi_output_types

    out: dict[str, int] = {}
    for chunk in batches(ids, 500):
        fns = [staking.contract.functions.getSlash(bytes.fromhex(i[2:])) for i in chunk]
        requests = [
            ("eth_call", [{"to": staking.address, "data": f._encode_transaction_data()}, "latest"])
            for f in fns
        ]
        for sid, fn, result in zip(chunk, fns, RawRpc(w3).batch(requests), strict=True):
            if isinstance(result, RpcError):
                raise ContainmentFailed(f"getSlash({sid}) failed: {result}")
            (record,) = decode(get_abi_output_types(fn.abi), bytes.fromhex(result[2:]))
            out[sid] = int(record[5])  # (provider, bps, state, eventType, executableAt, amount, ...)
    return out


def effects(receipts: list[tuple[str, TxReceipt]], staking_address: str) -> tuple[list[str], list[str]]:
    """(slash ids vetoed, providers lifted) as the receipts' logs say."""
    vetoed: list[str] = []
    lifted: list[str] = []
    for _, receipt in receipts:
        for log in receipt["logs"]:
            if log["address"].lower() != staking_address.lower() or not log["topics"]:
                continue
            topic = log["topics"][0].to_0x_hex()
            if topic == SLASH_VETOED:
                vetoed.append(log["topics"][1].to_0x_hex())
            elif topic == JAIL_LIFTED:
                lifted.append(Web3.to_checksum_address(log["topics"][1][-20:]))
    return vetoed, lifted


# ------------------------------------------------------------------------------------ all of it


def contain(
    engine: Engine,
    w3: Web3,
    staking: StakingContract,
    signer: LocalAccount,
    plan: Plan,
    options: Options,
    clock: Callable[[], float] = time.time,
    outbox: Record | None = None,
) -> Outcome:
    """Execute `plan` (see the module's docstring); raises ContainmentFailed when a call would
    revert or a transaction fails (what was recorded and mined before stays)."""
    started = time.monotonic()
    revoked_ms, cancelled, rejected = record(engine, plan, options, int(clock() * 1000), outbox)
    outcome = Outcome(plan.account, revoked_ms, cancelled, rejected)
    amounts = {s.id: s.amount for s in plan.slashes}
    outcome.role_revoked = staking.has_role("DETECTOR_ROLE", plan.account)
    _round(w3, staking, signer, calls(staking, plan, options, outcome.role_revoked), outcome)
    # A jail or a slash the executor had in flight at the first plan landed before the role's
    # revocation was mined, or never will (the contract refuses the signature now): plan again.
    again = plan_revocation(engine, plan.account, int(clock() * 1000))
    _, more_cancelled, more_rejected = record(engine, again, options, int(clock() * 1000))
    outcome.cancelled += more_cancelled
    outcome.rejected += more_rejected
    extra = replace(
        again,
        slashes=tuple(s for s in again.slashes if s.id not in amounts and s.id not in outcome.vetoed),
        jails=tuple(p for p in again.jails if p not in plan.jails and p not in outcome.lifted),
    )
    _round(w3, staking, signer, calls(staking, extra, options, revoke_role=False), outcome)
    for s in again.slashes:
        if amounts.get(s.id) is None:
            amounts[s.id] = s.amount
    unknown = [sid for sid in outcome.vetoed if amounts.get(sid) is None]  # not indexed at either plan
    amounts |= slash_amounts(w3, staking, unknown)
    outcome.vetoed_amount = sum(amounts[sid] or 0 for sid in outcome.vetoed)
    outcome.seconds = time.monotonic() - started
    return outcome


def _round(
    w3: Web3, staking: StakingContract, signer: LocalAccount, todo: list[Call], outcome: Outcome
) -> None:
    if not todo:
        return
    simulations = simulate(w3, staking, signer.address, todo)
    failed = next((s for s in simulations if s.error is not None), None)
    if failed is not None:
        raise ContainmentFailed(f"{failed.call.label} would revert: {failed.error}")
    receipts = send(w3, signer, [s for s in simulations if s.needed])
    outcome.receipts += receipts
    vetoed, lifted = effects(receipts, staking.address)
    outcome.vetoed += vetoed
    outcome.lifted += lifted
