"""What revoking a detector would undo (`swarm-staking detector revoke`, SPEC section 8): the plan.

A detector's *own* verdicts are those it signed alone: first signer, and no other detector in
`verdict_signers` (a verdict another detector co-signed rests on that one too, and stays). The
plan of a revocation, read from the service database in a few queries whatever the number of
verdicts:

- `cancel`: the unsent actions (`pending` or `held`) of its own verdicts;
- `slashes`: the pending slashes resting only on its own verdicts (the indexed `slashes`, plus
  proposals the service sent that the indexer has not seen yet, amount unknown);
- `jails`: the providers whose jail rests only on its own verdicts: the indexed jail is one of
  them (or the index has not seen the jail the service sent), and no other verdict's jail is in
  force (sent or confirmed, not rejected, until recovery or not yet run out, not ended by a
  reinstatement);
- `kept`: jailed providers with one of its verdicts whose jail also rests on another verdict.

`build_plan` is pure (rows in, plan out); `plan_revocation` reads the rows. Executing the plan is
`staking.worker.revoke`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, Select, func, select

from staking.db import schema as t
from staking.domain.vocabulary import ActionState, SlashState, VerdictStatus

# Action kinds that put a jail or a slash proposal on chain (the executor may join both in one).
JAIL_KINDS = ("jail", "jail_and_propose_slash")
SLASH_KINDS = ("propose_slash", "jail_and_propose_slash")
UNSENT = (ActionState.PENDING.value, ActionState.HELD.value)
SENT = (ActionState.SUBMITTED.value, ActionState.CONFIRMED.value)
BATCH = 200  # ids (or providers) per vetoSlashes / liftJails transaction
CANCEL_NOTE = "detector revoked"


@dataclass(frozen=True)
class ActionRow:
    id: int
    verdict_id: str
    provider: str
    kind: str
    state: str
    verdict_status: str


@dataclass(frozen=True)
class SlashRow:
    id: str
    provider: str
    state: int
    amount: int


@dataclass(frozen=True)
class ProviderRow:
    address: str
    jailed: bool
    jail_verdict_id: str | None
    tombstoned: bool
    reinstated_at: int | None


@dataclass(frozen=True)
class OtherJail:
    """A jail another verdict (not the detector's own) sent against one of the same providers."""

    provider: str
    jail_seconds: int | None  # 0: until recovery
    confirmed_ms: int | None  # None: sent, not confirmed yet


@dataclass(frozen=True)
class Facts:
    """What the database holds about the detector's verdicts."""

    own: frozenset[str]  # ids of the verdicts it signed alone
    cosigned: int  # verdicts it signed first that another detector co-signed
    actions: list[ActionRow]
    slashes: list[SlashRow]
    providers: list[ProviderRow]
    other_jails: list[OtherJail]


@dataclass(frozen=True)
class SlashToVeto:
    id: str
    provider: str
    amount: int | None  # None: sent by the service, not indexed yet


@dataclass(frozen=True)
class Plan:
    account: str
    holds_role: bool  # DETECTOR_ROLE in the roles index
    revoked_ms: int | None  # already refused by the service since then
    own: frozenset[str]
    cosigned: int
    cancel: tuple[int, ...]  # action ids
    cancel_kinds: dict[str, int]
    slashes: tuple[SlashToVeto, ...]
    jails: tuple[str, ...]  # providers
    kept: tuple[str, ...]  # jailed providers whose jail also rests on another verdict
    # Own verdicts that each part of the plan touches (their status becomes "rejected").
    touched_by_cancel: frozenset[str] = field(default_factory=frozenset)
    touched_by_jails: frozenset[str] = field(default_factory=frozenset)

    @property
    def at_stake(self) -> int:
        """Base units of the pending slashes whose amount is indexed."""
        return sum(s.amount or 0 for s in self.slashes)

    @property
    def unindexed_slashes(self) -> int:
        return sum(1 for s in self.slashes if s.amount is None)

    def rejects(self, veto_pending: bool, release_jails: bool) -> frozenset[str]:
        """The own verdicts the revocation discounts (status `rejected`: no longer strikes)."""
        ids = set(self.touched_by_cancel)
        if veto_pending:
            ids |= {s.id for s in self.slashes}
        if release_jails:
            ids |= self.touched_by_jails
        return frozenset(ids)


def batches(items: Iterable[Any], size: int = BATCH) -> list[list[Any]]:
    items = list(items)
    return [items[i : i + size] for i in range(0, len(items), size)]


def build_plan(account: str, holds_role: bool, revoked_ms: int | None, facts: Facts, now_s: int) -> Plan:
    """The plan from the rows (pure). `now_s`: the time jails are judged at (unix seconds)."""
    own = facts.own
    cancel = [a for a in facts.actions if a.state in UNSENT]
    indexed = {s.id: s for s in facts.slashes}
    sent_slash = {a.verdict_id for a in facts.actions if a.kind in SLASH_KINDS and a.state in SENT}
    slashes = [
        SlashToVeto(s.id, s.provider, s.amount) for s in facts.slashes if s.state == SlashState.PENDING
    ]
    by_verdict = {a.verdict_id: a.provider for a in facts.actions}
    slashes += [SlashToVeto(vid, by_verdict[vid], None) for vid in sorted(sent_slash - set(indexed))]

    sent_jail = {a.provider for a in facts.actions if a.kind in JAIL_KINDS and a.state in SENT}
    rows = {p.address: p for p in facts.providers}
    held_elsewhere = _jails_in_force(facts.other_jails, rows, now_s)
    jails: list[str] = []
    kept: list[str] = []
    for provider in sorted(sent_jail | {p.address for p in facts.providers if p.jailed}):
        row = rows.get(provider)
        if row is not None and row.tombstoned:
            continue  # liftJails skips it: a tombstone is governance's decision
        if row is not None and row.jailed and row.jail_verdict_id not in own:
            kept.append(provider)  # the jail on chain is another verdict's (or governance's)
        elif provider in held_elsewhere:
            kept.append(provider)
        elif (row is not None and row.jailed) or provider in sent_jail:
            jails.append(provider)
    lifted = set(jails)
    return Plan(
        account=account,
        holds_role=holds_role,
        revoked_ms=revoked_ms,
        own=own,
        cosigned=facts.cosigned,
        cancel=tuple(a.id for a in cancel),
        cancel_kinds=dict(Counter(a.kind for a in cancel)),
        slashes=tuple(slashes),
        jails=tuple(jails),
        kept=tuple(kept),
        touched_by_cancel=frozenset(a.verdict_id for a in cancel),
        touched_by_jails=frozenset(
            a.verdict_id for a in facts.actions if a.kind in JAIL_KINDS and a.provider in lifted
        ),
    )


def _jails_in_force(others: list[OtherJail], rows: dict[str, ProviderRow], now_s: int) -> set[str]:
    """Providers held by another verdict's jail: sent (not confirmed yet), or confirmed and
    neither run out nor ended by a later reinstatement."""
    held: set[str] = set()
    for j in others:
        if j.confirmed_ms is None:
            held.add(j.provider)
            continue
        row = rows.get(j.provider)
        if row is not None and row.reinstated_at is not None and row.reinstated_at * 1000 > j.confirmed_ms:
            continue
        if j.jail_seconds == 0 or (j.jail_seconds or 0) * 1000 + j.confirmed_ms > now_s * 1000:
            held.add(j.provider)
    return held


# ------------------------------------------------------------------------------------ queries


def own_verdicts(account: str) -> Select[Any]:
    """Ids of the verdicts `account` signed alone (first signer, no other signer recorded)."""
    v, s = t.verdicts, t.verdict_signers
    other = select(s.c.verdict_id).where(s.c.verdict_id == v.c.id, s.c.signer != account).correlate(v)
    return select(v.c.id).where(v.c.signer == account, ~other.exists())


def plan_revocation(engine: Engine, account: str, now_ms: int) -> Plan:
    """The plan of revoking detector `account` (checksummed), read in one snapshot."""
    from staking.intake.detectors import DETECTOR_ROLE_HEX

    v, a = t.verdicts, t.actions
    own = own_verdicts(account)
    providers_of_own = select(v.c.provider).where(v.c.id.in_(own))
    with engine.connect() as conn:
        revoked_ms = conn.execute(
            select(t.detector_revocations.c.revoked_ms).where(t.detector_revocations.c.account == account)
        ).scalar()
        holds_role = (
            conn.execute(
                select(t.roles.c.account).where(
                    t.roles.c.role == DETECTOR_ROLE_HEX, t.roles.c.account == account
                )
            ).first()
            is not None
        )
        own_ids = frozenset(conn.execute(own).scalars())
        first_signed = conn.execute(select(func.count()).where(v.c.signer == account)).scalar_one()
        actions = [
            ActionRow(r.id, r.verdict_id, r.provider, r.kind, r.state, r.status)
            for r in conn.execute(
                select(a.c.id, a.c.verdict_id, v.c.provider, a.c.kind, a.c.state, v.c.status)
                .join(v, v.c.id == a.c.verdict_id)
                .where(a.c.verdict_id.in_(own))
            )
        ]
        sl = t.slashes.c
        slashes = [
            SlashRow(r.id, r.provider, r.state, int(r.amount))
            for r in conn.execute(select(sl.id, sl.provider, sl.state, sl.amount).where(sl.id.in_(own)))
        ]
        p = t.providers.c
        providers = [
            ProviderRow(r.address, bool(r.jailed), r.jail_verdict_id, bool(r.tombstoned), r.reinstated_at)
            for r in conn.execute(
                select(p.address, p.jailed, p.jail_verdict_id, p.tombstoned, p.reinstated_at).where(
                    p.address.in_(providers_of_own)
                )
            )
        ]
        # By provider, the detector's own verdicts left out here: one plan whatever the statistics.
        mine = {r.provider for r in actions} | {r.address for r in providers}
        other_jails = [
            OtherJail(
                r.provider, r.jail_seconds, r.confirmed_ms if r.state == ActionState.CONFIRMED else None
            )
            for chunk in batches(sorted(mine), 500)
            for r in conn.execute(
                select(v.c.id, v.c.provider, v.c.jail_seconds, a.c.state, a.c.confirmed_ms)
                .join(v, v.c.id == a.c.verdict_id)
                .where(
                    v.c.provider.in_(chunk),
                    a.c.kind.in_(JAIL_KINDS),
                    a.c.state.in_(SENT),
                    v.c.status != VerdictStatus.REJECTED.value,
                )
            )
            if r.id not in own_ids
        ]
    facts = Facts(own_ids, int(first_signed) - len(own_ids), actions, slashes, providers, other_jails)
    return build_plan(account, holds_role, revoked_ms, facts, now_ms // 1000)
