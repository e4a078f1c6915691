"""`rewards show` and `rewards proof`: what the service database holds of a reward epoch, as the
worker computed it, and the Merkle proof a provider claims with."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from staking.cli.common import console, fail, parse_address, say, service_engine, tokens, utc
from staking.cli.rewards.shared import EpochArg, JsonOpt, not_computed


def eligible_proof(epoch: int, provider: str) -> dict[str, Any]:
    """`GET /v1/epochs/{n}/proofs/{address}` with the total weight and the claim it makes (`amount`
    = pool * weight // totalWeight, `claimed`); a one-line error unless `provider` is eligible."""
    from sqlalchemy import select

    from staking.db import schema as t
    from staking.readmodel import snapshot
    from staking.rewards import summary
    from staking.rewards.last_computed import NOT_IN_SET, reasons_of

    with snapshot(service_engine()) as conn:
        doc = summary.epoch_document(conn, epoch)
        if doc is None:
            fail(not_computed(epoch))
        row = summary.provider_weight(conn, epoch, provider)
        if row is None:
            fail(f"{provider} has no weight in epoch {epoch}: {NOT_IN_SET}")
        if not row.eligible:
            fail(f"{provider} is not eligible in epoch {epoch}: {'; '.join(reasons_of(row))}")
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


def show(epoch: EpochArg, as_json: JsonOpt = False) -> None:
    """An epoch's root, totals and every provider's weight or why it has none (from the database)."""
    from staking.readmodel import snapshot
    from staking.rewards.summary import epoch_document

    with snapshot(service_engine()) as conn:
        doc = epoch_document(conn, epoch, detail=True)
    if doc is None:
        fail(not_computed(epoch))
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
