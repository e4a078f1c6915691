"""Revert data as one line an operator reads: the custom error of SwarmStaking, its arguments and,
for the errors met most, a hint (`HINTS`; command modules add their own)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from staking.chain.contracts import StakingContract


class Connected(Protocol):
    """What a revert is decoded against: a command's connected deployment (chainops.Gov)."""

    staking: StakingContract


# A short explanation after the error name, for the reverts an operator meets most.
HINTS = {
    "SlashNotPending": "no pending slash with this id (state {state}: {state_name})",
    "VetoWindowClosed": "the veto window closed at {executableAt_utc}; only a pause reopens vetoes",
    "VetoWindowOpen": "the veto window is open until {executableAt_utc}; execute it after that",
    "EnforcedPause": "the contract is paused (swarm-staking unpause)",
    "ExpectedPause": "the contract is not paused",
    "NoRecoveryOpen": "the provider has no open recovery (swarm-staking recovery begin)",
    "RecoveryAtFinalStage": "the recovery is at its last stage (restoration): reinstate the provider",
    "RecoveryIncomplete": "the recovery is at stage {stage_name}: advance it to restoration first",
    "RecoveryOpen": "a recovery is already open for this provider",
    "NothingToReinstate": "the provider is neither jailed nor in recovery",
    "ProviderIsTombstoned": "the provider is tombstoned (permanent)",
    "NotRegistered": "not a registered provider",
    "InvalidRecoveryPath": "unknown recovery path",
}


def show(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, tuple | list):
        return "(" + ", ".join(show(v) for v in value) + ")"
    return str(value)


def revert_reason(gov: Connected, data: str | None, message: str) -> str:
    """`ErrorName(arg=value, …): hint` from revert data; the node's message if there is none."""
    if not data or len(data) < 10:
        return message
    from eth_abi import decode
    from eth_utils import to_checksum_address
    from eth_utils.abi import get_abi_input_types

    name = gov.staking.error_name(data)
    item = next((i for i in gov.staking.abi if i["type"] == "error" and i["name"] == name), None)
    if item is None:
        return f"custom error {name} (not in the SwarmStaking ABI)"
    try:
        values = decode(get_abi_input_types(item), bytes.fromhex(data[10:]))  # type: ignore[arg-type]
    except Exception:
        return name
    args: dict[str, Any] = {
        i["name"]: to_checksum_address(v) if i["type"] == "address" else v
        for i, v in zip(item["inputs"], values, strict=True)
    }
    if name == "AccessControlUnauthorizedAccount":
        return f"{name}: {args['account']} lacks {role_name(args['neededRole'])}"
    shown = ", ".join(f"{k}={show(v)}" for k, v in args.items())
    hint = HINTS.get(name)
    if hint is None:
        return f"{name}({shown})"
    return f"{name}({shown}): {hint.format(**_hint_fields(args))}"


def _hint_fields(args: dict[str, Any]) -> dict[str, Any]:
    from staking.cli.common import utc
    from staking.domain.vocabulary import RecoveryStage, SlashState

    out = dict(args)
    for key in ("executableAt", "claimableAt", "closesAt"):
        if key in args:
            out[f"{key}_utc"] = utc(int(args[key]))
    if "state" in args:
        out["state_name"] = "unknown id" if args["state"] == 0 else SlashState(args["state"]).wire
    if "stage" in args:
        out["stage_name"] = RecoveryStage(args["stage"]).wire
    return out


def role_name(role: bytes) -> str:
    from staking.chain.contracts import ROLE_NAMES, role_id

    for name in ("DEFAULT_ADMIN_ROLE", *ROLE_NAMES):
        if bytes(role_id(name)) == bytes(role):
            return name
    return "0x" + bytes(role).hex()
