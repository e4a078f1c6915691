"""How a provider's appeal of a slash (SPEC section 9) folds from SlashAppealed, AppealResolved
and AppealExpired into `appeals` rows, and the council's `appeal` webhook. Pure like the rest of
the projection: no SQL, no web3.

A rejection also moves the slash's `executable_at` (the contract's `max(executableAt, now +
appealGrace)`); an upheld appeal comes with the slash's own SlashVetoed, an expiry with its
SlashExecuted, which the slash fold handles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from staking.domain.clock import iso_seconds
from staking.domain.events import DecodedEvent
from staking.domain.vocabulary import AppealState

APPEAL_EVENTS = frozenset({"SlashAppealed", "AppealResolved", "AppealExpired"})
# Governance's bounds of appeals, as `params` rows (global, like the other parameters).
APPEAL_PARAM_EVENTS = {
    "AppealParamsSet": (("appeal_bond", "bond"), ("appeal_grace", "grace"), ("appeal_timeout", "timeout")),
}
APPEAL_WEBHOOK = "appeal"
OPEN, EXPIRED = AppealState.OPEN.wire, AppealState.EXPIRED.wire


def state_at(stored: str, deadline: int, at: int) -> str:
    """What `appealOf` answers at chain time `at`: an open appeal reads expired from its deadline
    on, before the next executeSlash settles it (refunds the bond, emits AppealExpired)."""
    return EXPIRED if stored == OPEN and at >= deadline else stored


@dataclass
class AppealRow:
    id: str  # the slash id
    provider: str
    state: str  # AppealState wire name: open|upheld|rejected|expired
    evidence_hash: str
    bond: int
    deadline: int
    appealed_at: int
    appealed_block: int
    appealed_tx: str
    reason_hash: str | None = None
    resolved_at: int | None = None
    executable_at: int | None = None
    resolved_block: int | None = None
    resolved_tx: str | None = None


class _Slash(Protocol):
    executable_at: int


def fold_appeal(
    appeals: dict[str, AppealRow], slashes: dict[str, Any], ev: DecodedEvent, block_time: int
) -> AppealRow:
    """Apply one of APPEAL_EVENTS to `appeals` (and a rejection's new executableAt to the slash in
    `slashes`, when loaded); returns the row it changed. A resolution or expiry needs its appeal in
    `appeals` (the caller checks: a missing one is a gap in the indexed history)."""
    a = ev.args
    sid = a["id"]
    if ev.name == "SlashAppealed":
        row = AppealRow(
            id=sid,
            provider=a["provider"],
            state=AppealState.OPEN.wire,
            evidence_hash=a["evidenceHash"],
            bond=int(a["bond"]),
            deadline=int(a["deadline"]),
            appealed_at=block_time,
            appealed_block=ev.block_number,
            appealed_tx=ev.tx_hash,
        )
        appeals[sid] = row
        return row
    row = appeals[sid]
    row.resolved_at, row.resolved_block, row.resolved_tx = block_time, ev.block_number, ev.tx_hash
    if ev.name == "AppealExpired":
        row.state = AppealState.EXPIRED.wire
        return row
    row.reason_hash = a["reasonHash"]
    if a["upheld"]:
        row.state = AppealState.UPHELD.wire
    else:
        row.state, row.executable_at = AppealState.REJECTED.wire, int(a["executableAt"])
        slash: _Slash | None = slashes.get(sid)
        if slash is not None:
            slash.executable_at = row.executable_at
    return row


def appeal_notice(row: AppealRow) -> dict[str, Any]:
    """The `appeal` webhook's data (to the council): which slash, whose, the evidence, the bond,
    until when the council may resolve it, and the command that does."""
    return {
        "slash_id": row.id,
        "provider": row.provider,
        "evidence_hash": row.evidence_hash,
        "bond": str(row.bond),
        "deadline": row.deadline,
        "deadline_at": iso_seconds(row.deadline),
        "appealed_at": row.appealed_at,
        "block": row.appealed_block,
        "tx_hash": row.appealed_tx,
        "appeals": f"/v1/appeals?provider={row.provider}",
        "resolve": f"swarm-staking appeal resolve {row.id} --upheld|--rejected --reason TEXT",
    }
