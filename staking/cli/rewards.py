"""`swarm-staking rewards show|proof|publish|fund|claim`: reward epochs from the command line.

`show` and `proof` read the service database (SWARM_DATABASE_URL): what the worker computed for an
epoch (staking/rewards/epochs.py) and the Merkle proof a provider claims with. The others are
state-changing commands on the shape of `chainops.run` (print, check the role, simulate, `--dry-run`
or ask, send, print the state after):

- `publish EPOCH`: the rewards oracle's path (REWARDS_ORACLE_ROLE; on the devnet with nothing
  configured, the service account #1): computes the epoch from the indexed database if the worker
  has not, then `publishEligibility(epoch, root, totalWeight, uri)`.
- `fund EPOCH AMOUNT`: `approve` (when the allowance is short) and `fundRewards`, by anyone.
- `claim EPOCH`: a provider, signing with its own key, claims `pool * weight // totalWeight` with
  the weight and proof from the database.
"""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from staking.cli.chainops import HINTS, Signing, describe_call, with_signing
from staking.cli.common import (
    PROVIDERS,
    app,
    confirm_or_abort,
    console,
    fail,
    load_settings,
    parse_address,
    say,
    service_engine,
    tokens,
    utc,
)
from staking.domain.vocabulary import TOKEN, Wei

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

    from staking.chain.contracts import EpochRecord, TokenContract
    from staking.cli.chainops import Gov, Operation

rewards_app = typer.Typer(
    help="Reward epochs: weights and proofs (indexed), publish, fund, claim.", no_args_is_help=True
)
app.add_typer(rewards_app, name="rewards", rich_help_panel=PROVIDERS)

EpochArg = Annotated[int, typer.Argument(min=0, help="reward epoch number")]
JsonOpt = Annotated[bool, typer.Option("--json", help="the JSON document")]

# One-line explanations of the rewards reverts, next to the governance ones.
HINTS.update(
    {
        "EpochAlreadyPublished": "epoch {epoch} is already published (swarm-staking rewards show {epoch})",
        "EpochNotFinished": "epoch {epoch} is still running on chain; publish it after it ends",
        "EpochNotPublished": "epoch {epoch} is not published yet: claims open once its root is",
        "AlreadyClaimed": "{account} already claimed its reward of epoch {epoch}",
        "InvalidProof": "the weight and proof do not match the root published for the epoch",
        "InvalidEligibility": "a zero root goes with a zero total weight, and only with it",
        "ZeroAmount": "the amount must be positive",
    }
)


def _not_computed(epoch: int) -> str:
    return f"epoch {epoch} is not computed (the worker computes each epoch once it has ended)"


# ------------------------------------------------------------------------------------ show, proof


def epoch_document(conn: Connection, epoch: int) -> dict[str, Any] | None:
    """`GET /v1/epochs/{n}` (staking.rewards.summary) with the epoch's window, the hash of its
    inputs and every provider's weight, score, time-weighted stake and reasons."""
    from sqlalchemy import select

    from staking.db import schema as t
    from staking.rewards import summary
    from staking.rewards.epochs import epoch_clock, epoch_row, window

    doc = summary.epoch_document(conn, epoch)
    row = epoch_row(conn, epoch)
    if doc is None or row is None:
        return None
    clock = epoch_clock(conn)
    start, end = window(clock, epoch) if clock else (None, None)
    w = t.reward_weights
    weights = [
        {
            "address": r.provider,
            "eligible": r.eligible,
            "weight": str(r.weight),
            "score_bps": r.score_bps,
            "time_weighted_stake": str(r.time_weighted_stake),
            "reasons": summary.reasons_of(r),
        }
        for r in conn.execute(select(w).where(w.c.epoch == epoch).order_by(w.c.provider))
    ]
    extra = {"start": start, "end": end, "inputs_hash": row["inputs_hash"], "intent_id": row["intent_id"]}
    return {**doc, **extra, "weights": weights}


def eligible_proof(epoch: int, provider: str) -> dict[str, Any]:
    """`GET /v1/epochs/{n}/proofs/{address}` with the total weight and the claim it makes (`amount`
    = pool * weight // totalWeight, `claimed`); a one-line error unless `provider` is eligible."""
    from sqlalchemy import select

    from staking.db import schema as t
    from staking.readmodel import snapshot
    from staking.rewards import summary

    with snapshot(service_engine()) as conn:
        doc = summary.epoch_document(conn, epoch)
        if doc is None:
            fail(_not_computed(epoch))
        row = summary.provider_weight(conn, epoch, provider)
        if row is None:
            fail(f"{provider} has no weight in epoch {epoch}: {summary.NOT_IN_SET}")
        if not row.eligible:
            fail(f"{provider} is not eligible in epoch {epoch}: {'; '.join(summary.reasons_of(row))}")
        try:
            tree = summary.ProofTrees(size=1).tree(conn, epoch, doc["merkle_root"])
        except summary.EpochInconsistent as exc:
            fail(str(exc))
        ev = t.events.c
        claimed = conn.execute(
            select(ev.id).where(ev.name == "RewardClaimed", ev.epoch == epoch, ev.provider == provider)
        ).first()
    weight, total, pool = int(row.weight), int(doc["total_weight"]), int(doc["pool"] or 0)
    return {
        "epoch": epoch,
        "address": provider,
        "weight": str(weight),
        "proof": ["0x" + node.hex() for node in tree.proofs[provider]],
        "merkle_root": doc["merkle_root"],
        "published": doc["published"],
        "state": doc["state"],
        "total_weight": str(total),
        "claim": {"pool": str(pool), "amount": str(pool * weight // total), "claimed": claimed is not None},
    }


@rewards_app.command("show")
def show(epoch: EpochArg, as_json: JsonOpt = False) -> None:
    """An epoch's root, totals and every provider's weight or why it has none (from the database)."""
    from staking.readmodel import snapshot

    with snapshot(service_engine()) as conn:
        doc = epoch_document(conn, epoch)
    if doc is None:
        fail(_not_computed(epoch))
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    total = int(doc["total_weight"])
    when = f" [{utc(doc['start'])} - {utc(doc['end'])})" if doc["start"] is not None else ""
    state = doc["state"] + (f" (intent {doc['intent_id']})" if doc["state"] == "publishing" else "")
    say(
        f"epoch {epoch}{when}: {state}; {doc['eligible']} of {doc['providers']} providers eligible, "
        f"total weight {tokens(total)} (weights in SWARM of stake x score)"
    )
    say(f"root {doc['merkle_root']}  uri {doc['uri']}  inputs sha256 {doc['inputs_hash']}")
    if doc["pool"] is None:
        say("on chain: nothing indexed for this epoch yet (no pool, not published)")
    else:
        published = "published" if doc["published"] else "not published"
        claimed = f"{tokens(int(doc['claimed']))} SWARM claimed in {doc['claims']} claims"
        say(f"on chain: {published}; pool {tokens(int(doc['pool']))} SWARM, {claimed}")
    table = Table(show_edge=False, box=None, padding=(0, 2, 0, 0))
    for name in ("provider", "eligible", "weight", "share", "score", "avg stake (SWARM)", "reasons"):
        table.add_column(name, no_wrap=name != "reasons", overflow="fold")
    for w in doc["weights"]:
        weight = int(w["weight"])
        share = f"{100 * weight / total:.2f} %" if total and weight else "-"
        table.add_row(
            w["address"],
            "yes" if w["eligible"] else "no",
            tokens(weight),
            share,
            f"{w['score_bps'] / 100:.2f} %",
            tokens(int(w["time_weighted_stake"])),
            Text("; ".join(w["reasons"])),
        )
    console.print(table)


@rewards_app.command("proof")
def proof(
    epoch: EpochArg,
    address: Annotated[str, typer.Argument(help="provider address (any case)")],
    as_json: JsonOpt = False,
) -> None:
    """A provider's weight and Merkle proof for `claim` (from the database)."""
    provider = parse_address(address)
    doc = eligible_proof(epoch, provider)
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    claim = doc["claim"]
    total, weight = int(doc["total_weight"]), int(doc["weight"])
    status = "claimed" if claim["claimed"] else "not claimed yet"
    say(
        f"provider {provider}, epoch {epoch} ({doc['state']}): weight {tokens(weight)} of {tokens(total)} "
        f"({100 * weight / total:.2f} %); claim {tokens(int(claim['amount']))} SWARM of the "
        f"{tokens(int(claim['pool']))} SWARM pool ({status})"
    )
    say(f"root  {doc['merkle_root']}")
    say(f"proof {len(doc['proof'])} nodes:")
    for node in doc["proof"]:
        say(f"  {node}")
    if not claim["claimed"]:
        say(f"claim with: swarm-staking rewards claim {epoch}  (signed with the provider's key)")


# ------------------------------------------------------------------------------------ publish


def epoch_lines(epoch: int, rec: EpochRecord) -> list[str]:
    pool = f"pool {tokens(rec.pool)} SWARM, {tokens(rec.claimed)} SWARM claimed"
    if not rec.published:
        return [f"epoch {epoch}: not published; {pool}"]
    return [
        f"epoch {epoch}: published, root 0x{rec.merkle_root.hex()}, total weight {rec.total_weight:,}; {pool}"
    ]


def as_oracle(gov: Gov) -> Gov:
    """On the devnet with no signer configured, sign as the service account, the rewards oracle."""
    from staking.devnet.accounts import SERVICE, devnet_account

    account = devnet_account(SERVICE)
    if (
        gov.signer_source.startswith("devnet governance")
        and account.address == gov.deployment.accounts.service
    ):
        return replace(
            gov,
            signer=account,
            signer_source=f"devnet service account #{SERVICE} (rewards oracle), public default mnemonic",
        )
    return gov


def epoch_to_publish(engine: Engine, epoch: int, store: bool) -> tuple[dict[str, Any], list[str]]:
    """The stored epoch, or the epoch computed now from the indexed database (stored if `store`)."""
    from sqlalchemy.exc import IntegrityError

    from staking.policy import load_policy
    from staking.rewards.epochs import (
        EpochImmutable,
        compute_epoch,
        epoch_clock,
        epoch_row,
        indexed_time,
        store_epoch,
        window,
    )

    with engine.connect() as conn:
        row = epoch_row(conn, epoch)
        clock, indexed = epoch_clock(conn), indexed_time(conn)
    if row is not None:
        return row, []
    if clock is None or indexed is None:
        fail("the database is not indexed yet: run `swarm-staking index` first")
    end = window(clock, epoch)[1]
    if indexed < end:
        fail(
            f"epoch {epoch} has not finished in the indexed database: it ends {utc(end)}, the database "
            f"is indexed to {utc(indexed)} (run `swarm-staking index` once the chain is past it)"
        )
    try:
        rules = load_policy(load_settings().policy_file).rewards
    except ValueError as exc:
        fail(str(exc))
    try:
        with engine.begin() as conn:
            result = compute_epoch(conn, epoch, clock, rules)
            if store:
                store_epoch(conn, result)
    except (EpochImmutable, IntegrityError):  # the worker stored it meanwhile
        return epoch_to_publish(engine, epoch, store)
    computed = {
        "merkle_root": result.root,
        "total_weight": result.total_weight,
        "eligible": result.eligible,
        "providers": len(result.providers),
        "uri": result.uri,
        "inputs_hash": result.inputs_hash,
        "state": result.state,
    }
    return computed, ["computed now from the indexed database" + ("" if store else " (not stored: dry run)")]


def publish_operation(gov: Gov, epoch: int, row: dict[str, Any], notes: list[str]) -> Operation[EpochRecord]:
    from staking.cli.chainops import Operation

    root, total = bytes.fromhex(row["merkle_root"][2:]), int(row["total_weight"])
    lines = [
        f"{row['eligible']} of {row['providers']} providers eligible; inputs sha256 {row['inputs_hash']}",
        *notes,
    ]
    if row["state"] == "publishing":
        lines.append(
            f"the worker already sent this epoch (intent {row['intent_id']}); one of the two will revert"
        )
    if total == 0:
        lines.append(
            "nobody is eligible: a zero root closes the epoch (no claims; fundRewards refused afterwards)"
        )

    def read() -> EpochRecord:
        return gov.staking.epoch(epoch)

    def predict(rec: EpochRecord) -> EpochRecord:
        return replace(rec, merkle_root=root, total_weight=total, published=True)

    fn = gov.staking.publish_eligibility(epoch, root, total, row["uri"])
    return Operation(fn, ("REWARDS_ORACLE_ROLE",), read, lambda r: epoch_lines(epoch, r), predict, lines)


@rewards_app.command("publish")
@with_signing
def publish(epoch: EpochArg, signing: Signing) -> None:
    """Publish a finished epoch's root (REWARDS_ORACLE_ROLE), computing it first if needed."""
    from staking.rewards.epochs import MUTABLE_STATES, PUBLISHED, PUBLISHING, epoch_row, set_state

    gov = as_oracle(signing.open())
    engine = service_engine()
    row, notes = epoch_to_publish(engine, epoch, store=not signing.dry_run)
    receipt = signing.run(gov, publish_operation(gov, epoch, row, notes))
    if receipt is None:
        return
    with engine.begin() as conn:  # the root that went on chain is the stored one
        stored = epoch_row(conn, epoch)
        if stored is not None and stored["state"] in (*MUTABLE_STATES, PUBLISHING):
            set_state(conn, epoch, PUBLISHED)


# ------------------------------------------------------------------------------------ fund


def parse_amount(value: str, base_units: bool) -> int:
    try:
        amount = Decimal(value) * (1 if base_units else TOKEN)
    except InvalidOperation:
        amount = Decimal(-1)
    if amount <= 0 or amount != amount.to_integral_value():
        unit = "base units (a whole number)" if base_units else "SWARM with at most 18 decimals"
        fail(f"{value!r} is not a positive amount of {unit}")
    return int(amount)


def _token(gov: Gov) -> TokenContract:
    from staking.chain.contracts import TokenContract

    return TokenContract(gov.w3, gov.staking.stake_token())


@rewards_app.command("fund")
@with_signing
def fund(
    epoch: EpochArg,
    amount: Annotated[str, typer.Argument(help="SWARM to add to the pool, e.g. 1000 or 0.5")],
    base_units: Annotated[bool, typer.Option("--base-units", help="AMOUNT is in base units")] = False,
    *,
    signing: Signing,
) -> None:
    """Add to an epoch's reward pool before it is published: approve (if needed) + fundRewards."""
    from staking.chain.contracts import EpochRecord
    from staking.cli.chainops import Operation, run, send

    value = parse_amount(amount, base_units)
    gov = signing.open()
    token = _token(gov)
    signer = gov.signer.address
    State = tuple[EpochRecord, int]

    def read() -> State:
        return gov.staking.epoch(epoch), token.balance_of(signer)

    def render(state: State) -> list[str]:
        rec, balance = state
        return [*epoch_lines(epoch, rec), f"funder {signer}: {tokens(balance)} SWARM"]

    def predict(state: State) -> State:
        rec, balance = state
        return replace(rec, pool=Wei(rec.pool + value)), balance - value

    op = Operation(gov.staking.fund_rewards(epoch, Wei(value)), (), read, render, predict)
    balance = token.balance_of(signer)
    if balance < value:
        fail(f"signer {signer} holds {tokens(balance)} SWARM; funding needs {tokens(value)} SWARM")
    allowance = int(token.contract.functions.allowance(signer, gov.staking.address).call())
    if allowance >= value:
        signing.run(gov, op)
        return
    approve = token.approve(gov.staking.address, Wei(value))
    say(f"call     SwarmToken.{describe_call(approve)} at {token.address}")
    say(f"         first: the allowance is {tokens(allowance)} SWARM and fundRewards pulls the amount")
    call = {"from": signer, "to": token.address, "data": approve._encode_transaction_data()}
    gas = int(gov.w3.eth.estimate_gas(call))  # type: ignore[arg-type]  # also simulates it
    if signing.dry_run:
        _fund_dry_run(gov, op)
        return
    confirm_or_abort(
        f"send approve and fundRewards from {signer} on chain {gov.deployment.chain_id}?", signing.yes
    )
    receipt = send(gov, approve, gas)
    tx = receipt["transactionHash"].to_0x_hex()
    say(f"sent     approve tx {tx}, mined in block {receipt['blockNumber']}")
    run(gov, op, dry_run=False, yes=True)


def _fund_dry_run(gov: Gov, op: Operation[Any]) -> None:
    """fundRewards cannot be simulated before the approval exists: check what it depends on
    besides the allowance (epoch not published, not paused; the balance was checked) instead."""
    epoch = op.fn.args[0]
    if gov.staking.epoch(epoch).published:
        fail(f"fundRewards would revert: EpochAlreadyPublished(epoch={epoch}): epoch {epoch} is published")
    if gov.staking.paused():
        fail(f"fundRewards would revert: EnforcedPause: {HINTS['EnforcedPause']}")
    say(f"call     SwarmStaking.{describe_call(op.fn)}")
    before = op.read()
    assert op.predict is not None
    for label, lines in (("before", op.render(before)), ("after", op.render(op.predict(before)))):
        for i, line in enumerate(lines):
            prefix = "(predicted) " if label == "after" and i == 0 else ""
            say(f"{label if i == 0 else '':9}{prefix}{line}")
    say(
        "dry run: approve would succeed, and fundRewards's conditions hold (balance, epoch not published, "
        "not paused; it cannot be simulated before the approval); nothing was sent"
    )


# ------------------------------------------------------------------------------------ claim


@rewards_app.command("claim")
@with_signing
def claim(epoch: EpochArg, signing: Signing) -> None:
    """Claim a provider's reward (its own key signs): pool * weight // totalWeight, proof from the DB."""
    from staking.cli.chainops import Operation

    gov = signing.open()
    if gov.signer_source.startswith("devnet "):
        fail("claim signs with the provider's own key: pass --keystore (or SWARM_SIGNER_KEY on the devnet)")
    provider = gov.signer.address
    doc = eligible_proof(epoch, provider)
    weight, total = int(doc["weight"]), int(doc["total_weight"])
    token = _token(gov)
    has_claimed = gov.staking.contract.functions.hasClaimed(epoch, provider)
    State = tuple["EpochRecord", int, bool]

    def read() -> State:
        return gov.staking.epoch(epoch), token.balance_of(provider), bool(has_claimed.call())

    def render(state: State) -> list[str]:
        rec, balance, claimed = state
        status = "claimed" if claimed else "not claimed"
        return [
            *epoch_lines(epoch, rec),
            f"provider {provider}: {tokens(balance)} SWARM; epoch {epoch} {status}",
        ]

    def predict(state: State) -> State:
        rec, balance, _ = state
        paid = rec.pool * weight // rec.total_weight if rec.total_weight else 0
        return replace(rec, claimed=Wei(rec.claimed + paid)), balance + paid, True

    notes = [f"weight {weight:,} of {total:,}: pays pool * weight // totalWeight (rounded down)"]
    proof_nodes = [bytes.fromhex(node[2:]) for node in doc["proof"]]
    op = Operation(gov.staking.claim(epoch, weight, proof_nodes), (), read, render, predict, notes)
    signing.run(gov, op)
