"""The contract calls of decided actions, built from an action row joined with its verdict row
(`staking.db.schema.actions` + `verdicts`), and what the contract's errors mean for each.

Idempotency keys of the transaction manager: `<kind>:<verdict id>` for one action, and
`jail_and_propose_slash:<verdict id>` for a verdict's jail and slash proposal in one transaction.
"""

from __future__ import annotations

from typing import Any

from web3.contract.contract import ContractFunction

from staking.chain.contracts import StakingContract
from staking.domain.vocabulary import Bps, EventType, RecoveryPath, Severity
from staking.txmanager.client import SimulationReverted
from staking.verdict import Verdict
from staking.worker.slash_plan import QUORUM, SlashPlan

COMBINED = "jail_and_propose_slash"

# A simulated revert that means "the effect is already there" settles the action.
ALREADY_DONE = {"jail": {"VerdictAlreadyUsed"}, "propose_slash": {"SlashAlreadyExists"}}
# A simulated revert that will pass later: the chain's clock has not reached the verdict's
# detection time yet (a block's timestamp trails the wall clock by up to a block interval), or the
# contract is paused for an emergency. The action stays pending and is simulated again next step.
NOT_YET = {"VerdictFromFuture", "EnforcedPause"}
NOT_APPLICABLE = {
    "jail": {"ProviderIsTombstoned"},
    "begin_recovery": {"RecoveryOpen", "ProviderIsTombstoned"},
}
# The rolling caps: the action waits (with backoff) until the window has room again.
CAP_ERRORS = {"jail": "JailCapExceeded", "propose_slash": "SlashCapExceeded"}
# The bounds a plan was made against changed on chain (the bounds are cached): planned again once.
STALE_BOUNDS = {"InvalidBps", "QuorumNotMet"}
# Which part of jailAndProposeSlash a revert comes from: the other part then goes alone.
JAIL_PART = {"VerdictAlreadyUsed", "JailCapExceeded", "ProviderIsTombstoned", "InvalidJailUntil"}
SLASH_PART = {"SlashCapExceeded", "InvalidBps", "QuorumNotMet", "SlashAlreadyExists"}


def key(kind: str, verdict_id: str) -> str:
    return f"{kind}:{verdict_id}"


def verdict_of(row: Any) -> Verdict:
    return Verdict(
        id=bytes.fromhex(row["verdict_id"][2:]),
        provider=row["provider"],
        event_type=EventType(row["event_type"]),
        severity=Severity(row["severity"]),
        detected_at=row["detected_at"],
        evidence_hash=bytes.fromhex(row["evidence_hash"][2:]),
    )


def _sig(hex_signature: str) -> bytes:
    return bytes.fromhex(hex_signature[2:])


def jail_until(row: Any, chain_now: int) -> int:
    """The jail's end: 0 (until recovery) or the head block's time + the decided seconds."""
    seconds = row["jail_seconds"] or 0
    return 0 if seconds == 0 else chain_now + seconds


def jail_call(staking: StakingContract, row: Any, until: int) -> ContractFunction:
    return staking.jail(verdict_of(row), _sig(row["signature"]), until)


def slash_call(staking: StakingContract, row: Any, plan: SlashPlan) -> ContractFunction:
    verdict = verdict_of(row)
    if plan.how == QUORUM:
        signatures = [_sig(s.signature) for s in plan.signers]
        return staking.propose_slash_quorum(verdict, signatures, Bps(plan.bps))
    return staking.propose_slash(verdict, _sig(row["signature"]), Bps(plan.bps))


def combined_call(staking: StakingContract, row: Any, until: int, plan: SlashPlan) -> ContractFunction:
    return staking.jail_and_propose_slash(verdict_of(row), _sig(row["signature"]), until, Bps(plan.bps))


def recovery_call(staking: StakingContract, row: Any) -> ContractFunction:
    return staking.begin_recovery(row["provider"], RecoveryPath(row["recovery_path"]))


def cap_figures(exc: SimulationReverted) -> tuple[int, int] | None:
    """(used, cap) of a JailCapExceeded / SlashCapExceeded revert (two words after the selector)."""
    data = str(exc).split(" ", 1)[1] if " " in str(exc) else ""
    words = data[10:] if data.startswith("0x") else ""
    if len(words) < 128:
        return None
    return int(words[:64], 16), int(words[64:128], 16)


def cap_note(kind: str, exc: SimulationReverted, waiting_note: str) -> str:
    figures = cap_figures(exc)
    if figures is None:
        return f"{waiting_note}: {exc.error}"
    used, cap = figures
    if kind == "jail":
        return f"{waiting_note}: {used} of {cap} jails used in the window ({exc.error})"
    return f"{waiting_note}: {used} would be at stake, the window's cap is {cap} ({exc.error})"
