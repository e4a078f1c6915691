"""Governance transactions from the command line, one shape for every state-changing command:

1. load the deployment file (SWARM_DEPLOYMENT), connect to SWARM_RPC_URL, load the signer,
2. print the call, the signer and the state it touches,
3. check the role the call needs (one line naming the missing role),
4. simulate it with `eth_call` from the signer (a revert is one line naming the custom error),
5. `--dry-run`: print the predicted state and stop; nothing is sent,
6. otherwise ask (unless `--yes`), send, wait for the receipt, print tx hash, block and the state.

Signers: an eth-account keystore (`--keystore` or SWARM_SIGNER_KEYSTORE, with `--password-file`,
SWARM_SIGNER_PASSWORD_FILE or a hidden prompt); a raw SWARM_SIGNER_KEY on the devnet only; and
on the devnet with nothing configured, the default-mnemonic account holding the role.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar, get_type_hints

import typer

from staking.cli.common import confirm_or_abort, fail, load_settings, runtime, say
from staking.cli.reverts import HINTS, revert_reason, show  # noqa: F401 - HINTS: the commands add theirs

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
    from web3 import Web3
    from web3.contract.contract import ContractFunction
    from web3.types import TxReceipt

    from staking.chain.contracts import StakingContract
    from staking.deployment import Deployment

T = TypeVar("T")

# Options shared by every command that signs.
Keystore = Annotated[
    Path | None,
    typer.Option("--keystore", help="eth-account keystore of the signer (default: SWARM_SIGNER_KEYSTORE)"),
]
PasswordFile = Annotated[
    Path | None,
    typer.Option(
        "--password-file",
        help="file holding the keystore password (default: SWARM_SIGNER_PASSWORD_FILE, else a hidden prompt)",
    ),
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="simulate with eth_call from the signer, print what would happen")
]
Yes = Annotated[bool, typer.Option("--yes", help="send without asking")]


@dataclass(frozen=True)
class Signing:
    """The options every signing command takes: whose key, and whether to send or only simulate."""

    keystore: Path | None
    password_file: Path | None
    dry_run: bool
    yes: bool

    def open(self) -> Gov:
        return open_governance(self.keystore, self.password_file)

    def run(self, gov: Gov, op: Operation[Any]) -> TxReceipt | None:
        return run(gov, op, self.dry_run, self.yes)

    def send(self, build: Callable[[Gov], Operation[Any]]) -> None:
        """Open the deployment and signer, then run the operation `build(gov)` makes."""
        gov = self.open()
        self.run(gov, build(gov))


SIGNING_OPTIONS = {
    "keystore": (Keystore, None),
    "password_file": (PasswordFile, None),
    "dry_run": (DryRun, False),
    "yes": (Yes, False),
}


def with_signing(func: Callable[..., None]) -> Callable[..., None]:
    """`func(<its own arguments>, signing: Signing)` as a typer command function that also takes
    --keystore, --password-file, --dry-run and --yes, handed to `func` as one `Signing`."""
    return with_options(func, SIGNING_OPTIONS, Signing)


def with_options(
    func: Callable[..., None], options: dict[str, Any], make: Callable[..., Any]
) -> Callable[..., None]:
    """`func(<its own arguments>, signing=make(*<the options' values>))` as a typer command that
    also takes `options` (name -> (annotation, default)); one home for the signature surgery."""
    hints = get_type_hints(func, include_extras=True)
    own = [
        p.replace(annotation=hints[p.name])
        for p in inspect.signature(func).parameters.values()
        if p.name != "signing"
    ]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
        for name, (annotation, default) in options.items()
    ]

    def command(*args: Any, **kwargs: Any) -> None:
        signing = make(*(kwargs.pop(name) for name in options))
        func(*args, **kwargs, signing=signing)

    command.__signature__ = inspect.Signature([*own, *added], return_annotation=None)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in (*own, *added)}
    command.__name__, command.__qualname__, command.__doc__ = func.__name__, func.__qualname__, func.__doc__
    return command


# ------------------------------------------------------------------------------------ set-up


def load_deployment() -> Deployment:
    rt = runtime()
    try:
        return rt.deployment
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc).splitlines()[0])


def load_cli_signer(
    deployment: Deployment, keystore: Path | None, password_file: Path | None, devnet_role: str
) -> tuple[LocalAccount, str]:
    """The signer and where it came from. `devnet_role` (governance, detector) names the
    deployment account used on the devnet when no signer is configured."""
    from staking.chain.keys import SignerError, load_signer
    from staking.devnet.accounts import DETECTOR, GOVERNANCE, GOVERNANCE_OWNERS, devnet_account
    from staking.domain.vocabulary import DEVNET_CHAIN_ID

    s = load_settings()
    keystore = keystore or s.signer_keystore
    password_file = password_file or s.signer_password_file
    raw = s.signer_key.get_secret_value() if s.signer_key else None
    if keystore is None and raw is None and deployment.chain_id == DEVNET_CHAIN_ID:
        if devnet_role == "governance" and deployment.governance.mode == "safe":
            # No key governs alone: sign as the first owner (the Safe route picks its own Safe's).
            index = GOVERNANCE_OWNERS[0]
            return devnet_account(index), f"devnet Safe owner #{index}, public default mnemonic"
        index = {"governance": GOVERNANCE, "detector": DETECTOR}[devnet_role]
        account = devnet_account(index)
        if account.address == getattr(deployment.accounts, devnet_role):
            return account, f"devnet {devnet_role} account #{index}, public default mnemonic"
    try:
        account = load_signer(deployment.chain_id, keystore, password_file, raw)
    except SignerError as exc:
        fail(str(exc))
    return account, f"keystore {keystore}" if keystore is not None else "SWARM_SIGNER_KEY"


@dataclass
class Gov:
    """A connected deployment and the signer of the command."""

    deployment: Deployment
    rpc_url: str
    w3: Web3
    staking: StakingContract
    signer: LocalAccount
    signer_source: str

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])


def open_governance(keystore: Path | None, password_file: Path | None) -> Gov:
    """Deployment, chain and signer, each checked with a one-line error."""
    from staking.chain.artifacts import ArtifactMissing

    deployment = load_deployment()
    rt = runtime()
    url, w3 = rt.rpc_url, rt.w3
    try:
        chain_id = w3.eth.chain_id
        code = w3.eth.get_code(deployment.contracts.SwarmStaking)  # type: ignore[arg-type]
    except Exception as exc:
        fail(f"cannot reach the chain at {url}: {type(exc).__name__}")
    if chain_id != deployment.chain_id:
        fail(f"the node at {url} is chain {chain_id}, the deployment file is for chain {deployment.chain_id}")
    if not code:
        fail(
            f"no contract at {deployment.contracts.SwarmStaking} on {url}: a restarted devnet? "
            "point SWARM_DEPLOYMENT at the current deployment file"
        )
    try:
        staking = rt.staking
    except ArtifactMissing as exc:
        fail(str(exc))
    signer, source = load_cli_signer(deployment, keystore, password_file, "governance")
    return Gov(deployment, url, w3, staking, signer, source)


def open_reader() -> Gov:
    """The deployment and chain without a signer, for commands that only read."""
    deployment = load_deployment()
    rt = runtime()
    try:
        staking = rt.staking
        staking.veto_window()
    except Exception as exc:
        fail(
            f"cannot read SwarmStaking at {deployment.contracts.SwarmStaking} on {rt.rpc_url}: "
            f"{type(exc).__name__}"
        )
    return Gov(deployment, rt.rpc_url, rt.w3, staking, None, "")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------ operations


@dataclass
class Operation(Generic[T]):
    """One contract call and the state it changes.

    `read` returns the state (e.g. a slash and its provider), `render` turns it into lines, and
    `predict` (when the outcome is certain once the simulation passed) gives the state after."""

    fn: ContractFunction
    roles: tuple[str, ...]  # the signer needs one of them; empty: anyone may call
    read: Callable[[], T]
    render: Callable[[T], list[str]]
    predict: Callable[[T], T] | None = None
    notes: list[str] = field(default_factory=list)


def describe_call(fn: ContractFunction) -> str:
    names = [i["name"] for i in fn.abi.get("inputs", [])]
    args = ", ".join(f"{n}={show(v)}" for n, v in zip(names, fn.args, strict=True))
    return f"{fn.fn_name}({args})"


def _print_state(label: str, lines: list[str]) -> None:
    for i, line in enumerate(lines):
        say(f"{label if i == 0 else '':9}{line}")


def run(gov: Gov, op: Operation[T], dry_run: bool, yes: bool) -> TxReceipt | None:
    """Print, check, simulate and (unless `dry_run`) confirm and send `op`; None for a dry run."""
    name = op.fn.fn_name
    say(f"call     SwarmStaking.{describe_call(op.fn)}")
    for note in op.notes:
        say(f"         {note}")
    say(f"contract {gov.staking.address} on chain {gov.deployment.chain_id} ({gov.rpc_url})")
    say(f"signer   {gov.signer.address} ({gov.signer_source})")
    require_role(gov, op.roles, name)
    before = op.read()
    _print_state("before", op.render(before))
    gas = simulate(gov, op.fn)
    if dry_run:
        if op.predict is not None:
            first, *rest = op.render(op.predict(before))
            _print_state("after", [f"(predicted) {first}", *rest])
        say(f"dry run: {name} would succeed (about {gas:,} gas); nothing was sent")
        return None
    confirm_or_abort(f"send {name} from {gov.signer.address} on chain {gov.deployment.chain_id}?", yes)
    receipt = send(gov, op.fn, gas)
    say(
        f"sent     tx {receipt['transactionHash'].to_0x_hex()}, mined in block {receipt['blockNumber']} "
        f"(gas used {receipt['gasUsed']:,})"
    )
    _print_state("after", op.render(op.read()))
    return receipt


def require_role(gov: Gov, roles: tuple[str, ...], fn_name: str) -> None:
    if not roles:
        return
    try:
        if any(gov.staking.has_role(role, gov.signer.address) for role in roles):
            return
    except Exception as exc:
        fail(f"cannot read the roles of {gov.signer.address}: {type(exc).__name__}")
    alternatives = f" (or {', '.join(roles[1:])})" if len(roles) > 1 else ""
    fail(f"signer {gov.signer.address} lacks {roles[0]}{alternatives}, which {fn_name} requires")


def simulate(gov: Gov, fn: ContractFunction) -> int:
    """`eth_call` from the signer, then the gas estimate; a revert is a one-line error."""
    return simulate_call(
        gov, gov.signer.address, gov.staking.address, fn._encode_transaction_data(), fn.fn_name
    )


def simulate_call(gov: Gov, sender: str, to: str, data: str, name: str) -> int:
    """`eth_call` of `data` from `sender` to `to`, then the gas estimate; a revert is one line."""
    from staking.chain.rpc import RawRpc, RpcError
    from staking.domain.errors import NodeUnreachable

    tx = {"from": sender, "to": to, "data": data}
    rpc = RawRpc(gov.w3)
    try:
        rpc.call("eth_call", [tx, "latest"])
        return int(rpc.call("eth_estimateGas", [tx, "latest"]), 16)
    except RpcError as exc:
        fail(f"{name} would revert: {revert_reason(gov, exc.data, exc.message)}")
    except NodeUnreachable as exc:
        fail(f"cannot reach the chain at {gov.rpc_url}: {exc}")


def send(gov: Gov, fn: ContractFunction, gas: int) -> TxReceipt:
    from staking.chain.rpc import RawRpc, RpcError
    from staking.chain.sender import Sender, with_margin

    try:
        pending = Sender(gov.w3, gov.signer).send(fn, gas=with_margin(gas))
        receipt = gov.w3.eth.wait_for_transaction_receipt(pending.tx_hash, timeout=300, poll_latency=0.2)
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        fail(f"sending {fn.fn_name} failed: {type(exc).__name__}: {first}")
    if receipt["status"] != 1:
        # Mined but reverted (the state changed between simulation and mining): name the error.
        reason = "unknown reason"
        tx = {"from": gov.signer.address, "to": gov.staking.address, "data": fn._encode_transaction_data()}
        try:
            RawRpc(gov.w3).call("eth_call", [tx, "latest"])
        except RpcError as exc:
            reason = revert_reason(gov, exc.data, exc.message)
        fail(
            f"{fn.fn_name} reverted in tx {receipt['transactionHash'].to_0x_hex()} "
            f"(block {receipt['blockNumber']}): {reason}"
        )
    return receipt
