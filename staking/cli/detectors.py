"""`swarm-staking detector list|revoke`: who signs verdicts, and containing one in one command
(SPEC section 8).

`revoke ADDRESS` prints the plan (`staking.worker.containment`: counts and amounts), simulates
every call from the council (VETOER_ROLE), and with `--dry-run` stops there; otherwise it asks
(unless `--yes`) and contains: the service refuses the detector from that instant, its unsent
actions are cancelled, `revokeDetector` goes on chain, and with `--veto-pending` /
`--release-jails` the slashes and jails that rest only on its verdicts are vetoed and lifted. With
one key (`staking.worker.revoke.contain`) in batched, pipelined transactions; in the Safe shape
(`staking.cli.council`) in one council Safe transaction, once its owners signed.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from staking.cli.chainops import Signing
from staking.cli.common import (
    GOVERNANCE,
    app,
    confirm_or_abort,
    fail,
    parse_address,
    runtime,
    say,
    service_engine,
    tokens,
)
from staking.cli.reverts import revert_reason
from staking.cli.routes import GovernanceSigning, with_governance

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from staking.cli.chainops import Gov
    from staking.worker.containment import Plan
    from staking.worker.revoke import Call, Options, Outcome, Simulation

detector_app = typer.Typer(
    help="Detectors: list them (verdicts, last seen), revoke one and undo what rests only on it.",
    no_args_is_help=True,
)
app.add_typer(detector_app, name="detector", rich_help_panel=GOVERNANCE)

DAY_MS = 86_400_000


def detector_rows(engine: Engine, now_ms: int) -> list[dict[str, Any]]:
    """Every account holding DETECTOR_ROLE in the index, and every revoked one, with its verdicts
    (as first signer: all, in the last 24 h), co-signatures, last seen and revocation."""
    from sqlalchemy import case, func, select

    from staking.db import schema as t
    from staking.domain.clock import iso_ms
    from staking.intake.detectors import DETECTOR_ROLE_HEX

    v, s = t.verdicts.c, t.verdict_signers.c
    with engine.connect() as conn:
        indexed = set(
            conn.execute(select(t.roles.c.account).where(t.roles.c.role == DETECTOR_ROLE_HEX)).scalars()
        )
        revoked = {row.account: row for row in conn.execute(select(t.detector_revocations))}
        recent = case((v.received_ms >= now_ms - DAY_MS, 1), else_=0)
        signed = {
            row.signer: row
            for row in conn.execute(
                select(v.signer, func.count(), func.sum(recent), func.max(v.received_ms)).group_by(v.signer)
            )
        }
        cosigned = {
            row.signer: row
            for row in conn.execute(
                select(s.signer, func.count(), func.max(s.received_ms))
                .join(t.verdicts, v.id == s.verdict_id)
                .where(s.signer != v.signer)
                .group_by(s.signer)
            )
        }
    out = []
    for account in sorted(indexed | set(revoked)):
        mine, co, rev = signed.get(account), cosigned.get(account), revoked.get(account)
        seen = max([m for m in (mine[3] if mine else None, co[2] if co else None) if m], default=None)
        out.append(
            {
                "account": account,
                "holds_role": account in indexed,
                "verdicts": int(mine[1]) if mine else 0,
                "verdicts_24h": int(mine[2] or 0) if mine else 0,
                "cosignatures": int(co[1]) if co else 0,
                "last_seen": iso_ms(seen),
                "revoked_at": iso_ms(rev.revoked_ms) if rev else None,
                "revoked_by": rev.revoked_by if rev else None,
                "revocation_note": rev.note if rev else None,
            }
        )
    return out


@detector_app.command("list")
def detector_list(as_json: Annotated[bool, typer.Option("--json", help="a JSON array")] = False) -> None:
    """Detectors (DETECTOR_ROLE in the index, and revoked ones): verdicts, last seen, revocation."""
    from staking.cli.records import indexed_block

    engine = service_engine()
    items = detector_rows(engine, runtime().now_ms())
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    for d in items:
        if d["revoked_at"] is None:
            standing = "detector"
        else:
            still = "; role still indexed" if d["holds_role"] else ""
            standing = f"REVOKED {d['revoked_at']}{still}"
        say(
            f"{d['account']}  {standing}  verdicts {d['verdicts']} ({d['verdicts_24h']} in 24 h), "
            f"co-signatures {d['cosignatures']}, last seen {d['last_seen'] or 'never'}"
        )
    revoked = sum(1 for d in items if d["revoked_at"] is not None)
    block = indexed_block(engine)
    where = "the chain is not indexed yet" if block is None else f"roles indexed to block {block}"
    say(
        f"{len(items) - revoked} detector{'' if len(items) - revoked == 1 else 's'}, "
        f"{revoked} revoked; {where}"
    )


def _n(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def plan_lines(plan: Plan, options: Options) -> list[str]:
    """The plan as the operator reads it before anything happens: the detector first, then one
    line per step."""
    from staking.worker.containment import BATCH

    where = "in the roles index" if plan.holds_role else "not in the roles index"
    since = "not revoked yet" if plan.revoked_ms is None else "already refused by the service"
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(plan.cancel_kinds.items()))
    lines = [
        f"detector {plan.account} ({where}; {since})",
        f"{_n(len(plan.own), 'verdict')} signed by it alone; "
        f"{plan.cosigned} co-signed by another detector (left as they are)",
        f"cancel {_n(len(plan.cancel), 'unsent action')}" + (f" ({kinds})" if kinds else ""),
    ]
    worth = f"{tokens(plan.at_stake)} SWARM"
    if plan.unindexed_slashes:
        worth += f" (+ {plan.unindexed_slashes} not indexed yet)"
    slashes = _n(len(plan.slashes), "pending slash", "pending slashes")
    if options.veto_pending:
        txs = -(-len(plan.slashes) // BATCH)
        lines.append(f"veto {slashes} worth {worth} ({txs} vetoSlashes)")
    elif plan.slashes:
        lines.append(f"leave {slashes} worth {worth} (veto them with --veto-pending)")
    jails = _n(len(plan.jails), "jail")
    if options.release_jails:
        txs = -(-len(plan.jails) // BATCH)
        lines.append(f"lift {jails} resting only on its verdicts ({txs} liftJails)")
    elif plan.jails:
        lines.append(f"leave {jails} resting only on its verdicts (lift them with --release-jails)")
    if plan.kept:
        lines.append(f"keep {_n(len(plan.kept), 'jail')} also resting on another verdict")
    return lines


def simulation_lines(gov: Gov, simulations: list[Simulation]) -> list[str]:
    out = []
    for s in simulations:
        if s.error is not None:
            fail(f"{s.call.label} would revert: {revert_reason(gov, s.error.data, s.error.message)}")
        effect = "" if s.effect is None else f": would {s.call.verb} {s.effect}"
        out.append(f"call     SwarmStaking.{s.call.label}{effect} (about {s.gas:,} gas)")
    return out


def outcome_lines(outcome: Outcome) -> list[str]:
    blocks = sorted({int(r["blockNumber"]) for _, r in outcome.receipts})
    mined = f", mined in block{'s' if len(blocks) > 1 else ''} {blocks[0]}" if blocks else ""
    if len(blocks) > 1:
        mined += f" to {blocks[-1]}"
    gas = sum(int(r["gasUsed"]) for _, r in outcome.receipts)
    return [
        f"revoked  {outcome.account}: refused by the service since {outcome.summary()['revoked_at']}",
        f"         DETECTOR_ROLE {'revoked on chain' if outcome.role_revoked else 'was not held on chain'}",
        f"cancelled {outcome.cancelled} unsent actions; "
        f"{outcome.rejected} verdicts rejected (no longer strikes)",
        f"sent     {len(outcome.receipts)} transactions{mined} (gas used {gas:,})",
        f"vetoed   {len(outcome.vetoed)} slashes worth {tokens(outcome.vetoed_amount)} SWARM",
        f"lifted   {len(outcome.lifted)} jails",
        f"done in {outcome.seconds:.2f} s",
    ]


@detector_app.command("revoke")
@with_governance
def detector_revoke(
    address: Annotated[str, typer.Argument(help="the detector's address")],
    signing: Signing,
    veto_pending: Annotated[
        bool, typer.Option("--veto-pending", help="veto every pending slash that rests only on its verdicts")
    ] = False,
    release_jails: Annotated[
        bool, typer.Option("--release-jails", help="lift every jail that rests only on its verdicts")
    ] = False,
    reason: Annotated[
        str | None,
        typer.Option(help="why; kept with the revocation, its keccak256 goes on chain as reasonHash"),
    ] = None,
) -> None:
    """Revoke a detector at once: refused by the service, DETECTOR_ROLE revoked, unsent actions
    cancelled; with the flags, its pending slashes vetoed and its jails lifted (all VETOER_ROLE:
    the council; in the Safe shape one council Safe transaction carries every call)."""
    from staking.cli.routes import choose_via
    from staking.worker.containment import plan_revocation
    from staking.worker.revoke import Options, calls

    assert isinstance(signing, GovernanceSigning)
    account = parse_address(address)
    engine = service_engine()
    gov = signing.open()
    rt = runtime()
    via = choose_via(gov, ("VETOER_ROLE",), signing.via)
    if via == "timelock":
        fail("detector revoke is the council's call (VETOER_ROLE): --via safe, not the timelock")
    council = gov.deployment.governance.council_safe if via == "safe" else None
    options = Options(veto_pending, release_jails, reason or "", council or gov.signer.address)
    plan = plan_revocation(engine, account, rt.now_ms())
    role = _role_held(gov, account)
    if not (role or plan.holds_role or plan.own or plan.cosigned or plan.revoked_ms is not None):
        fail(f"{account} is not a detector: no DETECTOR_ROLE on chain or in the index, and no verdicts")
    for line in plan_lines(plan, options):
        say(f"plan     {line}" if line.startswith("detector") else f"         {line}")
    say(f"contract {gov.staking.address} on chain {gov.deployment.chain_id} ({gov.rpc_url})")
    if not role:
        say(f"         {account} does not hold DETECTOR_ROLE on chain: no revokeDetector")
    todo = calls(gov.staking, plan, options, revoke_role=role)
    if council is not None:
        revoke_through_council(gov, engine, rt, plan, options, todo, signing)
        return
    _revoke_from_key(gov, engine, rt, plan, options, todo, signing)


def _revoke_from_key(
    gov: Gov, engine: Engine, rt: Any, plan: Plan, options: Options, todo: list[Call], signing: Signing
) -> None:
    """The EOA shape: the council's key sends every call itself, pipelined."""
    from staking.worker.revoke import ContainmentFailed, contain, simulate

    account = plan.account
    say(f"signer   {gov.signer.address} ({gov.signer_source})")
    if todo and not gov.staking.has_role("VETOER_ROLE", gov.signer.address):
        fail(f"signer {gov.signer.address} lacks VETOER_ROLE, which detector revoke needs")
    simulations = simulate(gov.w3, gov.staking, gov.signer.address, todo)
    for line in simulation_lines(gov, simulations):
        say(line)
    sending = sum(1 for s in simulations if s.needed)
    if signing.dry_run:
        say(f"dry run: {sending} transactions would succeed; nothing was sent and nothing recorded")
        return
    confirm_or_abort(
        f"revoke detector {account} and send {sending} transactions from {gov.signer.address} "
        f"on chain {gov.deployment.chain_id}?",
        signing.yes,
    )
    outbox = webhook_outbox(rt, engine)
    try:
        outcome = contain(engine, gov.w3, gov.staking, gov.signer, plan, options, rt.clock, outbox)
    except ContainmentFailed as exc:
        fail(f"containment stopped: {exc} (the service already refuses {account}; run it again to finish)")
    for line in outcome_lines(outcome):
        say(line)


def webhook_outbox(rt: Any, engine: Engine) -> Any:
    try:
        return rt.webhook_notifier(engine, start=False).record
    except Exception as exc:
        fail(f"bad webhook configuration: {exc}")


def revoke_through_council(
    gov: Gov,
    engine: Engine,
    rt: Any,
    plan: Plan,
    options: Options,
    todo: list[Call],
    opts: GovernanceSigning,
) -> None:
    """The Safe shape (`staking.cli.council`): every call of the plan in one council Safe
    transaction. The service refuses the detector from the first signing run on, whatever the
    owners' pace; a run after the execution contains what came after."""
    from staking.cli.council import open_council, send_as_council, signs
    from staking.worker.revoke import effects, record, simulate

    council, signer = open_council(gov, opts)
    simulations = simulate(gov.w3, gov.staking, council.address, todo)  # from the role's holder
    for line in simulation_lines(gov, simulations):
        say(line)
    needed = [s.call.fn for s in simulations if s.needed]
    if signs(opts):
        confirm_or_abort(
            f"revoke detector {plan.account}: the service refuses it from now, and the council Safe's "
            f"transaction carries {len(needed)} call{'s' if len(needed) != 1 else ''}?",
            opts.yes,
        )
        _, cancelled, rejected = record(engine, plan, options, rt.now_ms(), webhook_outbox(rt, engine))
        say(f"refused  {plan.account} by the service from now; {cancelled} unsent actions cancelled, "
            f"{rejected} verdicts rejected")  # fmt: skip
    if not needed:
        say("nothing to send on chain: no role to revoke, nothing to veto or lift")
        return
    receipt = send_as_council(gov, council, signer, needed, "detector revoke", opts)
    if receipt is None:
        return
    vetoed, lifted = effects([("execTransaction", receipt)], gov.staking.address)
    amount = sum(s.amount or 0 for s in plan.slashes if s.id in vetoed)
    held = gov.staking.has_role("DETECTOR_ROLE", plan.account)
    say(f"revoked  {plan.account}: DETECTOR_ROLE {'STILL HELD' if held else 'not held on chain'}")
    say(f"vetoed   {len(vetoed)} slashes worth {tokens(amount)} SWARM")
    say(f"lifted   {len(lifted)} jails")


def _role_held(gov: Gov, account: str) -> bool:
    try:
        return gov.staking.has_role("DETECTOR_ROLE", account)
    except Exception as exc:
        fail(f"cannot read the roles of {account}: {type(exc).__name__}")
