"""What is on chain to undo for a set of verdicts judged wrong (SPEC section 8): the slash
proposals they made that are still pending, to veto in batches (`vetoSlashes`), and the jails
that rest only on them, to lift in batches (`liftJails`), both VETOER_ROLE's.

`undo_plan(conn, verdicts, now_s)` takes the verdicts as a query of their ids, so a dismissed
incident (`staking.intake.incident_resolution`) and a revoked detector (every verdict it signed)
share it; `undo_calls(staking, plan, reason_hash)` makes the transactions. Read from the
service's actions and the indexer's `slashes`, `providers` and `events`; nothing asks the chain.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Select, select

from staking.db import schema as t
from staking.domain.vocabulary import ActionKind, ActionState, SlashState

if TYPE_CHECKING:
    from web3.contract.contract import ContractFunction

    from staking.chain.contracts import StakingContract

BATCH = 200  # ids (or providers) per vetoSlashes / liftJails transaction
# A chain action in these states may have landed (confirmed: landed, maybe not indexed yet).
ON_ITS_WAY = (ActionState.SUBMITTED.value, ActionState.CONFIRMED.value)
JAIL_RESETS = ("Unjailed", "Reinstated", "JailLifted")  # a provider free of every jail before


@dataclass(frozen=True)
class SlashToVeto:
    id: str
    provider: str
    amount: int | None  # None: proposed, not indexed yet
    executable_at: int | None


@dataclass(frozen=True)
class UndoPlan:
    vetoes: tuple[SlashToVeto, ...] = ()  # pending on chain inside the veto window (or unindexed)
    too_late: tuple[SlashToVeto, ...] = ()  # pending, veto window over (only a pause reopens it)
    lifts: tuple[str, ...] = ()  # providers whose jail rests only on the verdicts
    kept_jailed: tuple[str, ...] = ()  # jailed by the verdicts, and by others too
    in_flight: int = 0  # jail / slash transactions of the verdicts sent and not settled

    @property
    def veto_amount(self) -> int:
        return sum(s.amount or 0 for s in self.vetoes)


def undo_plan(conn: Connection, verdicts: Select[tuple[str]], now_s: int) -> UndoPlan:
    """What to veto and lift for `verdicts` (a query of verdict ids) at chain time `now_s`."""
    a, v, s = t.actions.c, t.verdicts.c, t.slashes.c
    ids = verdicts.scalar_subquery()
    actions = conn.execute(
        select(a.kind, a.state, v.id, v.provider)
        .join(t.verdicts, v.id == a.verdict_id)
        .where(a.verdict_id.in_(ids), a.kind.in_((ActionKind.JAIL.value, ActionKind.PROPOSE_SLASH.value)))
    ).all()
    proposed = {
        r.id: r.provider for r in actions if r.kind == ActionKind.PROPOSE_SLASH and r.state in ON_ITS_WAY
    }
    indexed = {
        r.id: r
        for r in conn.execute(
            select(s.id, s.provider, s.state, s.amount, s.executable_at).where(s.id.in_(ids))
        )
    }
    vetoes: list[SlashToVeto] = []
    too_late: list[SlashToVeto] = []
    for sid in sorted(set(proposed) | set(indexed)):
        slash = indexed.get(sid)
        if slash is None:
            vetoes.append(SlashToVeto(sid, proposed[sid], None, None))
        elif slash.state == SlashState.PENDING:
            late = now_s >= int(slash.executable_at)
            (too_late if late else vetoes).append(
                SlashToVeto(sid, slash.provider, int(slash.amount), int(slash.executable_at))
            )
    jailing: dict[str, set[str]] = {}
    for r in actions:
        if r.kind == ActionKind.JAIL and r.state in ON_ITS_WAY:
            jailing.setdefault(r.provider, set()).add(r.id)
    lifts, kept = _jails(conn, verdicts, jailing, now_s)
    in_flight = sum(1 for r in actions if r.state == ActionState.SUBMITTED)
    return UndoPlan(tuple(vetoes), tuple(too_late), lifts, kept, in_flight)


def _jails(
    conn: Connection, verdicts: Select[tuple[str]], jailing: dict[str, set[str]], now_s: int
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(providers to lift, providers kept jailed) among `jailing` (provider -> the verdicts of
    `verdicts` that jailed it). A jail is lifted when every jail in force since the provider's
    last release from jail (Unjailed, Reinstated, JailLifted) is one of `verdicts` and no other
    verdict's jail is in flight; a timed jail of another verdict that has run out does not keep
    it. A jail of theirs that landed but is not indexed yet counts as in force (liftJails skips a
    provider that is not jailed). Tombstoned providers are left alone."""
    if not jailing:
        return (), ()
    ev, p, v, a = t.events.c, t.providers.c, t.verdicts.c, t.actions.c
    providers = set(jailing)
    mine = set(conn.execute(verdicts).scalars())
    tombstoned = set(
        conn.execute(select(p.address).where(p.address.in_(providers), p.tombstoned.is_(True))).scalars()
    )
    ever: dict[str, set[str]] = {}  # every verdict that ever jailed the provider, as indexed
    episode: dict[
        str, list[tuple[str, int]]
    ] = {}  # (verdict, block time) of the jails since the last release
    for r in conn.execute(
        select(ev.provider, ev.name, ev.args, ev.block_time)
        .where(ev.provider.in_(providers), ev.name.in_(("Jailed", *JAIL_RESETS)))
        .order_by(ev.block_number, ev.log_index)
    ):
        if r.name in JAIL_RESETS:
            episode[r.provider] = []
        else:
            vid = str(json.loads(r.args)["verdictId"]).lower()
            episode.setdefault(r.provider, []).append((vid, int(r.block_time)))
            ever.setdefault(r.provider, set()).add(vid)
    others = {vid for jails in episode.values() for vid, _ in jails} - mine
    timed: dict[str, Any] = dict(conn.execute(select(v.id, v.jail_seconds).where(v.id.in_(others))).all())
    in_flight = set(
        conn.execute(
            select(v.provider)
            .join(t.actions, a.verdict_id == v.id)
            .where(
                v.provider.in_(providers),
                v.id.not_in(verdicts.scalar_subquery()),
                a.kind == ActionKind.JAIL.value,
                a.state == ActionState.SUBMITTED.value,
            )
        ).scalars()
    )
    lifts: list[str] = []
    kept: list[str] = []
    for provider in sorted(providers - tombstoned):
        unindexed = bool(jailing[provider] - ever.get(provider, set()))
        if not unindexed and not episode.get(provider):
            continue  # free again since (the events say so, whether or not the projection folds them)
        blocking = [
            vid
            for vid, at in episode.get(provider, [])
            if vid not in mine and (not timed.get(vid) or at + int(timed[vid]) > now_s)
        ]
        (kept if blocking or provider in in_flight else lifts).append(provider)
    return tuple(lifts), tuple(kept)


def undo_calls(
    staking: StakingContract, plan: UndoPlan, reason_hash: bytes, batch: int = BATCH
) -> list[ContractFunction]:
    """The vetoer's transactions that undo `plan`: `vetoSlashes` then `liftJails`, at most `batch`
    ids or providers each (the contract skips what is no longer vetoable or jailed)."""
    ids = [bytes.fromhex(s.id[2:]) for s in plan.vetoes]
    providers = list(plan.lifts)
    return [
        *(staking.veto_slashes(ids[i : i + batch], reason_hash) for i in range(0, len(ids), batch)),
        *(staking.lift_jails(providers[i : i + batch], reason_hash) for i in range(0, len(providers), batch)),
    ]
