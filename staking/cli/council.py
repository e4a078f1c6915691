"""The council Safe as one caller of several SwarmStaking calls (SPEC sections 8 and 9): what the
containment commands (`detector revoke`, `incident dismiss`) send in the Safe shape.

Every call goes into ONE council Safe transaction: a single call directly, several through Safe's
MultiSendCallOnly (delegatecalled, so each call still comes from the Safe, which holds
VETOER_ROLE). Each owner runs the same command; `--sign` writes a signature file, and the run
that reaches the threshold executes it. Owners must build the same transaction: a plan that moved
meanwhile changes its hash, and the earlier signatures no longer match (sign again)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eth_utils import to_checksum_address

from staking.cli.common import fail, say
from staking.cli.routes import GovernanceSigning, owner_signer, through_safe

if TYPE_CHECKING:
    from web3.contract.contract import ContractFunction
    from web3.types import TxReceipt

    from staking.chain.safe import SafeContract
    from staking.cli.chainops import Gov


def open_council(gov: Gov, opts: GovernanceSigning) -> tuple[SafeContract, Any]:
    """The council Safe and the owner signing for it; refuses a Safe without VETOER_ROLE and, with
    `--sign`, a signer who is not an owner (before the caller changes anything)."""
    from staking.chain.safe import SafeContract
    from staking.domain.vocabulary import Address

    g = gov.deployment.governance
    assert g.council_safe is not None
    council = SafeContract(gov.w3, Address(to_checksum_address(g.council_safe)))
    if not gov.staking.has_role("VETOER_ROLE", council.address):
        fail(
            f"the council Safe {council.address} lacks VETOER_ROLE: the deployment file's governance "
            "section is stale?"
        )
    signer = owner_signer(gov, council)
    if opts.sign and signer.address not in council.owners():
        fail(f"signer {signer.address} is not an owner of Safe {council.address}")
    say(f"route    the council Safe {council.address} calls SwarmStaking at once")
    say(f"signer   {signer.address} ({gov.signer_source})")
    return council, signer


def signs(opts: GovernanceSigning) -> bool:
    """Whether this run signs or executes (not a dry run, not an export)."""
    return not opts.dry_run and opts.export is None and (opts.sign or bool(opts.signatures))


def send_as_council(
    gov: Gov,
    council: SafeContract,
    signer: Any,
    fns: list[ContractFunction],
    what: str,
    opts: GovernanceSigning,
) -> TxReceipt | None:
    """`fns` (SwarmStaking calls) in one council Safe transaction; the receipt once executed."""
    from staking.chain.safe import calldata, multi_send_calldata

    batch: list[tuple[str, bytes]] = [(gov.staking.address, calldata(fn)) for fn in fns]
    if len(batch) == 1:
        return through_safe(gov, council, signer, batch[0][0], batch[0][1], what, opts)
    multi_send = gov.deployment.governance.multi_send
    if multi_send is None:
        fail(
            f"{len(batch)} calls need Safe's MultiSendCallOnly to go in one council transaction, and the "
            "deployment file's governance section names none (multi_send)"
        )
    data = multi_send_calldata(gov.w3, multi_send, batch)
    return through_safe(gov, council, signer, multi_send, data, what, opts, batch=batch)
