"""`rewards publish EPOCH`: the rewards oracle's path (REWARDS_ORACLE_ROLE). The epoch the worker
stored, or computed now from the indexed database, goes on chain with
`publishEligibility(epoch, root, totalWeight, uri)`; the stored row then says it is published."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from staking.cli.chainops import Signing, with_signing
from staking.cli.common import fail, load_settings, runtime, service_engine, utc
from staking.cli.rewards.shared import EpochArg, epoch_lines

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from staking.chain.contracts import EpochRecord
    from staking.cli.chainops import Gov, Operation


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
    from staking.rewards.clock import epoch_clock, indexed_time, window
    from staking.rewards.epochs import EpochImmutable, compute_epoch, epoch_row, store_epoch

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
                store_epoch(conn, result, now_ms=runtime().now_ms())
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
            set_state(conn, epoch, PUBLISHED, now_ms=runtime().now_ms())
