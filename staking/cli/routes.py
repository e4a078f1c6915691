"""How a governance call reaches SwarmStaking (SPEC section 9), `--via eoa|safe|timelock`:

- `eoa`: the signer sends it (chainops.run), as on the plain devnet;
- `safe`: the council Safe executes it once `threshold` owners signed its SafeTx (VETOER_ROLE calls:
  vetoes, appeals, pause);
- `timelock`: the governance Safe schedules it on the timelock (GOVERNANCE_ROLE calls), and anyone
  executes it after the delay (`swarm-staking timelock execute`).

Default: the deployment's shape picks by the role the call needs. Every route prints the state the
call touches, simulates the whole path (the call from its real holder, the Safe's own call, and
`execTransaction` once enough owners signed) and, on `--dry-run`, sends and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from eth_utils import to_checksum_address

from staking.cli.chainops import (
    SIGNING_OPTIONS,
    Gov,
    Operation,
    Signing,
    describe_call,
    run,
    simulate_call,
    with_options,
)
from staking.cli.common import confirm_or_abort, fail, relative, say, utc

if TYPE_CHECKING:
    from collections.abc import Callable

    from web3.types import TxReceipt

    from staking.chain.safe import SafeContract, SafeTx

VIAS = ("eoa", "safe", "timelock")
# The roles the timelock holds in the Safe shape: governance, and the admin (which moves in two steps).
TIMELOCK_ROLES = frozenset({"GOVERNANCE_ROLE", "DEFAULT_ADMIN_ROLE"})

Via = Annotated[
    str | None,
    typer.Option(
        "--via",
        help="eoa, safe (the council Safe) or timelock (via the governance Safe); "
        "default: the deployment's shape",
    ),
]
Sign = Annotated[
    bool, typer.Option("--sign", help="sign the Safe transaction with the signer (an owner's key)")
]
Signatures = Annotated[
    list[Path] | None,
    typer.Option(
        "--signatures",
        help="a signature file of another owner (repeatable); executes once the threshold is met",
    ),
]
Export = Annotated[
    Path | None,
    typer.Option(
        "--export", help="write a Safe Transaction Builder JSON batch instead, for the Safe web app"
    ),
]
SignatureOut = Annotated[
    Path | None,
    typer.Option(
        "--signature-out", help="where --sign writes the signature (default: safe-<hash>-<owner>.sig.json)"
    ),
]

GOVERNANCE_OPTIONS = {
    **SIGNING_OPTIONS,
    "via": (Via, None),
    "sign": (Sign, False),
    "signatures": (Signatures, None),
    "export": (Export, None),
    "signature_out": (SignatureOut, None),
}


@dataclass(frozen=True)
class GovernanceSigning(Signing):
    """Signing plus the route: `run` sends the operation the way `via` (or the shape) says."""

    via: str | None = None
    sign: bool = False
    signatures: list[Path] | None = None
    export: Path | None = None
    signature_out: Path | None = None

    def run(self, gov: Gov, op: Operation[Any]) -> TxReceipt | None:
        return run_routed(gov, op, self)


def with_governance(func: Callable[..., None]) -> Callable[..., None]:
    """Like `with_signing`, plus --via, --sign, --signatures, --export and --signature-out."""
    return with_options(func, GOVERNANCE_OPTIONS, GovernanceSigning)


# ------------------------------------------------------------------------------------ routing


def choose_via(gov: Gov, roles: tuple[str, ...], asked: str | None) -> str:
    shape = gov.deployment.governance.mode
    if asked is not None:
        if asked not in VIAS:
            fail(f"--via must be one of {', '.join(VIAS)}, not {asked!r}")
        if asked != "eoa" and shape != "safe":
            fail(
                f"--via {asked} needs a deployment in the Safe shape; this one is governed by one key "
                f"({shape})"
            )
        return asked
    if shape != "safe" or not roles:
        return "eoa"
    if "VETOER_ROLE" in roles:
        return "safe"
    return "timelock" if set(roles) & TIMELOCK_ROLES else "eoa"


def run_routed(gov: Gov, op: Operation[Any], opts: GovernanceSigning) -> TxReceipt | None:
    via = choose_via(gov, op.roles, opts.via)
    if via == "eoa":
        return run(gov, op, opts.dry_run, opts.yes)
    from staking.chain.safe import SafeContract, calldata

    g = gov.deployment.governance
    name = op.fn.fn_name
    say(f"call     SwarmStaking.{describe_call(op.fn)}")
    for note in op.notes:
        say(f"         {note}")
    say(f"contract {gov.staking.address} on chain {gov.deployment.chain_id} ({gov.rpc_url})")
    inner = op.fn._encode_transaction_data()
    if via == "safe":
        if "VETOER_ROLE" not in op.roles:
            fail(
                f"{name} is not a council call: only the council Safe holds a role on SwarmStaking; use "
                "--via timelock"
            )
        assert g.council_safe is not None
        safe = SafeContract(gov.w3, to_checksum_address(g.council_safe))
        holder, to, data, what = safe.address, gov.staking.address, calldata(op.fn), name
        say(f"route    the council Safe {safe.address} calls SwarmStaking at once")
    else:
        if not set(op.roles) & TIMELOCK_ROLES:
            fail(f"{name} does not need GOVERNANCE_ROLE: the timelock carries governance calls only")
        from staking.chain.timelock import TimelockCall, TimelockContract

        assert g.timelock is not None and g.governance_safe is not None
        timelock = TimelockContract(gov.w3, to_checksum_address(g.timelock))
        safe = SafeContract(gov.w3, to_checksum_address(g.governance_safe))
        delay = timelock.min_delay()
        call = TimelockCall(target=gov.staking.address, data=calldata(op.fn), salt=proposal_salt(safe))
        holder, to, data, what = (
            timelock.address,
            timelock.address,
            calldata(timelock.schedule(call, delay)),
            "schedule",
        )
        say(f"route    the governance Safe {safe.address} schedules it on the timelock {timelock.address}")
        say(f"         operation 0x{call.operation_id.hex()}, executable {delay} s after it is scheduled")
    if not any(gov.staking.has_role(r, holder) for r in op.roles):
        fail(
            f"{holder} lacks {op.roles[0]}, which {name} requires: the deployment file's governance "
            "section is stale?"
        )
    signer = owner_signer(gov, safe)
    say(f"signer   {signer.address} ({gov.signer_source})")
    before = op.read()
    _lines("before", op.render(before))
    simulate_call(gov, holder, gov.staking.address, inner, name)  # the effect, from the role's holder
    if via == "timelock":
        simulate_call(gov, safe.address, to, "0x" + data.hex(), "TimelockController.schedule")
    if op.predict is not None:
        first, *rest = op.render(op.predict(before))
        when = "(predicted)" if via == "safe" else "(predicted, once the timelock executes it)"
        _lines("after", [f"{when} {first}", *rest])
    receipt = through_safe(gov, safe, signer, to, data, what, opts)
    if receipt is None:
        return None
    if via == "safe":
        _lines("after", op.render(op.read()))
    else:
        eta = timelock.timestamp(call.operation_id)
        say(f"queued   operation 0x{call.operation_id.hex()}: ETA {utc(eta)} ({relative(eta, gov.now())})")
        say(f"         then: swarm-staking timelock execute 0x{call.operation_id.hex()}  (anyone may)")
    return receipt


def proposal_salt(safe: SafeContract) -> bytes:
    """The timelock salt of the Safe's next proposal: every owner running the same command builds
    the same operation, and the same call proposed again later gets a new operation id."""
    from eth_utils import keccak

    return keccak(text=f"swarm-staking:{safe.address}:{safe.nonce()}")


def owner_signer(gov: Gov, safe: SafeContract) -> Any:
    """The command's signer; on the devnet with no key configured, the Safe's first owner."""
    if gov.signer_source.startswith("devnet Safe owner"):
        from staking.devnet.accounts import COUNCIL_OWNERS, GOVERNANCE_OWNERS, devnet_account

        owners = safe.owners()
        for index in (*GOVERNANCE_OWNERS, *COUNCIL_OWNERS):
            if devnet_account(index).address in owners:
                gov.signer, gov.signer_source = (
                    devnet_account(index),
                    f"devnet Safe owner #{index}, public default mnemonic",
                )
                break
    return gov.signer


# ------------------------------------------------------------------------------------ the Safe


def through_safe(
    gov: Gov,
    safe: SafeContract,
    signer: Any,
    to: str,
    data: bytes,
    what: str,
    opts: GovernanceSigning,
    batch: list[tuple[str, bytes]] | None = None,
) -> TxReceipt | None:
    """Collect signatures (files, `--sign`), then execute once the threshold is met; or export.
    With `batch` (several calls), `to` is MultiSendCallOnly and `data` its multiSend of them,
    delegatecalled; an export lists the calls themselves (the Safe app batches them)."""
    from staking.chain.safe import SafeOperation
    from staking.cli.safe_signatures import default_path, load_signatures, signature_document, write_signature

    owners, threshold, chain_id = safe.owners(), safe.threshold(), gov.deployment.chain_id
    operation = SafeOperation.DELEGATECALL if batch else SafeOperation.CALL
    tx = safe.build_tx(to, data, operation=operation)
    tx_hash = safe.transaction_hash(tx)
    say(f"safe tx  0x{tx_hash.hex()} (Safe nonce {tx.nonce}; {threshold} of {len(owners)} owners sign)")
    if opts.export is not None:
        _export(gov, safe, tx, batch or [(tx.to, tx.data)], what, opts.export)
        return None
    collected = load_signatures(tuple(opts.signatures or ()), chain_id, safe.address, tx_hash, owners)
    if opts.sign:
        if signer.address not in owners:
            fail(
                f"signer {signer.address} is not an owner of Safe {safe.address} (owners: "
                f"{', '.join(owners)})"
            )
        if signer.address in collected:
            fail(f"{signer.address} already signed in a --signatures file")
        collected[signer.address] = tx.sign(chain_id, safe.address, signer)
        if not opts.dry_run:
            out = opts.signature_out or default_path(tx_hash, signer.address)
            write_signature(
                out,
                signature_document(
                    chain_id, safe.address, tx, tx_hash, signer.address, collected[signer.address]
                ),
            )
            say(f"signed   as {signer.address}: wrote {out}")
    elif not collected:
        fail(
            "nothing signed: pass --sign (an owner's key), --signatures FILE (another owner's) or "
            "--export FILE"
        )
    say(f"signers  {len(collected)} of {threshold}: {', '.join(collected) or 'none'}")
    if len(collected) < threshold:
        verb = "would need" if opts.dry_run else "needs"
        say(f"waiting  {verb} {threshold - len(collected)} more: the next owner runs the same command "
            "with --sign "
            "--signatures <each file so far>")  # fmt: skip
        if opts.dry_run:
            say("dry run: nothing was sent or written")
        return None
    from staking.chain.safe import combine_signatures

    exec_fn = safe.exec_transaction(tx, combine_signatures(collected))
    gas = simulate_call(
        gov, signer.address, safe.address, exec_fn._encode_transaction_data(), "Safe.execTransaction"
    )
    if opts.dry_run:
        say(f"dry run: execTransaction would succeed (about {gas:,} gas); nothing was sent or written")
        return None
    confirm_or_abort(f"execute the Safe transaction from {signer.address} on chain {chain_id}?", opts.yes)
    return _execute(gov, safe, signer, exec_fn, gas)


def _execute(gov: Gov, safe: SafeContract, signer: Any, exec_fn: Any, gas: int) -> TxReceipt:
    from web3.logs import DISCARD

    from staking.chain.sender import Sender

    try:
        pending = Sender(gov.w3, signer).send(exec_fn, gas=gas + gas // 4 + 45_000)
        receipt = gov.w3.eth.wait_for_transaction_receipt(pending.tx_hash, timeout=300, poll_latency=0.2)
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        fail(f"sending execTransaction failed: {type(exc).__name__}: {first}")
    ok = safe.contract.events.ExecutionSuccess().process_receipt(receipt, errors=DISCARD)
    if receipt["status"] != 1 or not ok:
        fail(
            f"the Safe transaction failed in tx {receipt['transactionHash'].to_0x_hex()} (block "
            f"{receipt['blockNumber']})"
        )
    say(
        f"sent     tx {receipt['transactionHash'].to_0x_hex()}, mined in block {receipt['blockNumber']} "
        f"(gas used {receipt['gasUsed']:,}); the Safe executed it"
    )
    return receipt


def _export(
    gov: Gov, safe: SafeContract, tx: SafeTx, calls: list[tuple[str, bytes]], what: str, path: Path
) -> None:
    import time

    from staking.governance.export import BatchCall, dumps, transaction_builder_batch

    if path.exists():
        fail(f"{path} exists: pick another --export file")
    batch = transaction_builder_batch(
        gov.deployment.chain_id,
        safe.address,
        [BatchCall(to=to, data=data, value=0) for to, data in calls],
        name=f"swarm-staking {what}",
        created_at_ms=int(time.time() * 1000),
        description=f"Safe nonce {tx.nonce}; built by swarm-staking",
    )
    path.write_text(dumps(batch))
    say(f"exported {path}: load it in the Safe app's Transaction Builder; owners sign it there")


def _lines(label: str, lines: list[str]) -> None:
    for i, line in enumerate(lines):
        say(f"{label if i == 0 else '':9}{line}")
