"""Role-based access control of SwarmStaking.

Every restricted function is called by every persona that lacks the role it needs (each role in
isolation on a fresh single-role account, the multi-role devnet accounts, a provider and a
stranger) and must revert with `AccessControlUnauthorizedAccount(caller, neededRole)`. Each
restricted function also has a success path from a single-role account, with the state change
and the emitted event checked, and the permissionless functions are shown to work for role-less
callers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from eth_abi import encode
from eth_utils import keccak, to_checksum_address
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD
from web3.types import TxReceipt

from staking.chain.contracts import DEFAULT_ADMIN_ROLE, role_id
from staking.domain.vocabulary import TOKEN, ProviderClass, RecoveryPath, RecoveryStage, SlashState
from tests.support.chain import Chain
from tests.support.indexing import ZERO32

pytestmark = pytest.mark.integration

ADMIN = "DEFAULT_ADMIN_ROLE"
GOVERNANCE = "GOVERNANCE_ROLE"
SLASHER = "SLASHER_ROLE"
VETOER = "VETOER_ROLE"
DETECTOR = "DETECTOR_ROLE"
ORACLE = "REWARDS_ORACLE_ROLE"
ALL_ROLES = (ADMIN, GOVERNANCE, SLASHER, VETOER, DETECTOR, ORACLE)
NAMED_ROLES = (GOVERNANCE, SLASHER, VETOER, DETECTOR, ORACLE)

# Fresh, funded, role-less Anvil accounts that receive exactly one role inside a test. The admin
# role has one holder and moves only in two steps (AccessControlDefaultAdminRules), so no
# persona holds it alone: test_the_admin_role_moves_only_in_two_steps hands it over.
SINGLE_ROLE_INDEX = {GOVERNANCE: 13, SLASHER: 14, VETOER: 15, DETECTOR: 16, ORACLE: 17}
NEW_ADMIN_INDEX = 12
SPARE_INDEX = 18  # role-less account used as a grantee / claimer / new treasury
SPARE_INDEX_2 = 19

# Every caller identity, with the exact set of roles it holds on the devnet.
PERSONAS: dict[str, frozenset[str]] = {
    "governance": frozenset({ADMIN, GOVERNANCE, VETOER}),
    "service": frozenset({SLASHER, ORACLE}),
    "detector": frozenset({DETECTOR}),
    **{f"{role.removesuffix('_ROLE').lower()}_only": frozenset({role}) for role in NAMED_ROLES},
    "provider": frozenset(),
    "stranger": frozenset(),
}
SINGLE_ROLE_PERSONA = {f"{role.removesuffix('_ROLE').lower()}_only": role for role in NAMED_ROLES}
SINGLE_ROLE_PERSONA_FOR = {role: name for name, role in SINGLE_ROLE_PERSONA.items()}


def persona(chain: Chain, name: str) -> str:
    """Address of persona `name`; single-role personas get their role granted here."""
    if name == "governance":
        return chain.governance
    if name == "service":
        return chain.service
    if name == "detector":
        return chain.detector
    if name == "provider":
        return chain.providers[0]
    if name == "stranger":
        return chain.stranger
    role = SINGLE_ROLE_PERSONA[name]
    address = chain.account(SINGLE_ROLE_INDEX[role]).address
    chain.tx(chain.staking.grant_role(role, address), chain.governance)
    return address


def events(chain: Chain, receipt: TxReceipt, name: str) -> list[Any]:
    return list(chain.staking.contract.events[name]().process_receipt(receipt, errors=DISCARD))


def one_event(chain: Chain, receipt: TxReceipt, name: str) -> Any:
    found = events(chain, receipt, name)
    assert len(found) == 1, f"expected one {name} event, got {found}"
    return found[0]["args"]


def reason(text: str) -> bytes:
    return keccak(text=text)


# ---------------------------------------------------------------- restricted function table


@dataclass(frozen=True)
class Restricted:
    name: str
    allowed: frozenset[str]  # any one of these roles suffices
    checked_role: str  # the role named by AccessControlUnauthorizedAccount
    build: Callable[[Chain], ContractFunction]  # prepares state, returns a call valid for `allowed`


def _jail(chain: Chain) -> ContractFunction:
    v, sig = chain.signed(chain.providers[0])
    return chain.staking.jail(v, sig, 0)


def _propose_slash(chain: Chain) -> ContractFunction:
    v, sig = chain.signed(chain.providers[0])
    return chain.staking.propose_slash(v, sig, 1_000)


def _pending_slash(chain: Chain) -> bytes:
    v, sig = chain.signed(chain.providers[0])
    chain.tx(chain.staking.propose_slash(v, sig, 1_000), chain.service)
    return v.id


def _veto_slash(chain: Chain) -> ContractFunction:
    return chain.staking.veto_slash(_pending_slash(chain), reason("false positive"))


def _tombstone(chain: Chain) -> ContractFunction:
    return chain.staking.tombstone(chain.providers[0], reason("repeat offender"))


def _begin_recovery(chain: Chain) -> ContractFunction:
    return chain.staking.begin_recovery(chain.providers[0], RecoveryPath.SECURITY_REVIEW)


def _advance_recovery(chain: Chain) -> ContractFunction:
    chain.tx(_begin_recovery(chain), chain.governance)
    return chain.staking.advance_recovery(chain.providers[0])


def _reinstate(chain: Chain) -> ContractFunction:
    chain.tx(_jail(chain), chain.service)
    return chain.staking.reinstate(chain.providers[0])


def _pause(chain: Chain) -> ContractFunction:
    return chain.staking.pause()


def _unpause(chain: Chain) -> ContractFunction:
    chain.tx(chain.staking.pause(), chain.governance)
    return chain.staking.unpause()


def _finished_epoch(chain: Chain) -> int:
    epoch_length = chain.staking.contract.functions.epochLength().call()
    chain.advance(epoch_length)
    return chain.staking.current_epoch() - 1


def _publish_eligibility(chain: Chain) -> ContractFunction:
    return chain.staking.publish_eligibility(_finished_epoch(chain), reason("root"), 100, "ipfs://leaves")


def _set_class_params(chain: Chain) -> ContractFunction:
    return chain.staking.contract.functions.setClassParams(0, 2_000 * TOKEN, 250 * TOKEN, 3 * 86_400)


def _set_veto_window(chain: Chain) -> ContractFunction:
    return chain.staking.contract.functions.setVetoWindow(600)


def _set_max_verdict_age(chain: Chain) -> ContractFunction:
    return chain.staking.contract.functions.setMaxVerdictAge(7_200)


def _set_max_jail_duration(chain: Chain) -> ContractFunction:
    return chain.staking.contract.functions.setMaxJailDuration(7 * 86_400)


def _set_probation_epochs(chain: Chain) -> ContractFunction:
    return chain.staking.contract.functions.setProbationEpochs(5)


def _set_treasury(chain: Chain) -> ContractFunction:
    return chain.staking.contract.functions.setTreasury(chain.account(SPARE_INDEX).address)


def _propose_slash_quorum(chain: Chain) -> ContractFunction:
    v, sig = chain.signed(chain.providers[0])
    return chain.staking.propose_slash_quorum(v, [sig], 1_000)


def _jail_and_propose_slash(chain: Chain) -> ContractFunction:
    v, sig = chain.signed(chain.providers[0])
    return chain.staking.jail_and_propose_slash(v, sig, 0, 1_000)


def _veto_slashes(chain: Chain) -> ContractFunction:
    return chain.staking.veto_slashes([_pending_slash(chain)], reason("false positives"))


def _lift_jails(chain: Chain) -> ContractFunction:
    chain.tx(_jail(chain), chain.service)
    return chain.staking.lift_jails([chain.providers[0]], reason("rogue detector"))


def _tombstoned(chain: Chain) -> str:
    chain.tx(chain.staking.tombstone(chain.providers[0], reason("repeat offender")), chain.governance)
    return chain.providers[0]


def _release_tombstoned(chain: Chain) -> ContractFunction:
    return chain.staking.release_tombstoned(_tombstoned(chain))


def _slash_tombstoned(chain: Chain) -> ContractFunction:
    return chain.staking.slash_tombstoned(_tombstoned(chain), 2_500, reason("forfeit"))


def _set_caps(chain: Chain) -> ContractFunction:
    return chain.staking.set_caps(86_400, 10, 500, 10_000)


def _set_severity_bounds(chain: Chain) -> ContractFunction:
    return chain.staking.set_severity_bounds((500, 1_000, 2_500, 5_000))


def _set_quorum(chain: Chain) -> ContractFunction:
    return chain.staking.set_quorum(2, 1_000)


def _appealed_slash(chain: Chain) -> bytes:
    """A pending slash of providers[0], appealed by it with the bond (sent to it by governance)."""
    slash_id = _pending_slash(chain)
    provider, bond = chain.providers[0], chain.staking.appeal_params().bond
    chain.tx(chain.token.transfer(provider, bond), chain.governance)
    chain.tx(chain.token.approve(chain.staking.address, bond), provider)
    chain.tx(chain.staking.appeal_slash(slash_id, reason("my evidence")), provider)
    return slash_id


def _resolve_appeal(chain: Chain) -> ContractFunction:
    return chain.staking.resolve_appeal(_appealed_slash(chain), False, reason("evidence does not hold"))


def _set_appeal_params(chain: Chain) -> ContractFunction:
    return chain.staking.set_appeal_params(50 * TOKEN, 3_600, 2 * 86_400)


def _grant_role(chain: Chain) -> ContractFunction:
    return chain.staking.grant_role(SLASHER, chain.account(SPARE_INDEX).address)


def _revoke_role(chain: Chain) -> ContractFunction:
    return chain.staking.revoke_role(SLASHER, chain.service)


def _revoke_detector(chain: Chain) -> ContractFunction:
    return chain.staking.contract.functions.revokeDetector(chain.detector)


def _challenged_epoch(chain: Chain) -> int:
    """A finished epoch whose root was just published under a one-hour challenge."""
    chain.tx(chain.staking.contract.functions.setRewardChallengeDelay(3_600), chain.governance)
    epoch = _finished_epoch(chain)
    chain.tx(chain.staking.publish_eligibility(epoch, reason("root"), 100, "ipfs://leaves"), chain.service)
    return epoch


def _revoke_eligibility(chain: Chain) -> ContractFunction:
    return chain.staking.contract.functions.revokeEligibility(_challenged_epoch(chain), reason("stolen key"))


def _sweep_epoch(chain: Chain) -> ContractFunction:
    epoch = _finished_epoch(chain)
    chain.tx(chain.token.approve(chain.staking.address, 10 * TOKEN), chain.governance)
    chain.tx(chain.staking.fund_rewards(epoch, 10 * TOKEN), chain.governance)
    chain.tx(chain.staking.publish_eligibility(epoch, ZERO32, 0, "ipfs://empty"), chain.service)
    chain.advance(chain.staking.contract.functions.REWARD_CLAIM_PERIOD().call())
    return chain.staking.contract.functions.sweepEpoch(epoch)


def _sweep_excess(chain: Chain) -> ContractFunction:
    chain.tx(chain.token.transfer(chain.staking.address, 3 * TOKEN), chain.providers[0])
    return chain.staking.contract.functions.sweepExcess()


def _set_reward_challenge_delay(chain: Chain) -> ContractFunction:
    return chain.staking.contract.functions.setRewardChallengeDelay(7_200)


def _begin_admin_transfer(chain: Chain) -> ContractFunction:
    return chain.staking.contract.functions.beginDefaultAdminTransfer(chain.account(NEW_ADMIN_INDEX).address)


def _cancel_admin_transfer(chain: Chain) -> ContractFunction:
    chain.tx(_begin_admin_transfer(chain), chain.governance)
    return chain.staking.contract.functions.cancelDefaultAdminTransfer()


def _change_admin_delay(chain: Chain) -> ContractFunction:
    return chain.staking.contract.functions.changeDefaultAdminDelay(86_400)


def _rollback_admin_delay(chain: Chain) -> ContractFunction:
    chain.tx(_change_admin_delay(chain), chain.governance)
    return chain.staking.contract.functions.rollbackDefaultAdminDelay()


def _only(role: str) -> frozenset[str]:
    return frozenset({role})


RESTRICTED = (
    Restricted("jail", _only(SLASHER), SLASHER, _jail),
    Restricted("proposeSlash", _only(SLASHER), SLASHER, _propose_slash),
    Restricted("proposeSlashQuorum", _only(SLASHER), SLASHER, _propose_slash_quorum),
    Restricted("jailAndProposeSlash", _only(SLASHER), SLASHER, _jail_and_propose_slash),
    Restricted("vetoSlash", _only(VETOER), VETOER, _veto_slash),
    Restricted("vetoSlashes", _only(VETOER), VETOER, _veto_slashes),
    Restricted("liftJails", _only(VETOER), VETOER, _lift_jails),
    Restricted("tombstone", _only(GOVERNANCE), GOVERNANCE, _tombstone),
    Restricted("releaseTombstoned", _only(GOVERNANCE), GOVERNANCE, _release_tombstoned),
    Restricted("slashTombstoned", _only(GOVERNANCE), GOVERNANCE, _slash_tombstoned),
    # beginRecovery accepts GOVERNANCE or SLASHER; a caller with neither is told it lacks SLASHER.
    Restricted("beginRecovery", frozenset({GOVERNANCE, SLASHER}), SLASHER, _begin_recovery),
    Restricted("advanceRecovery", _only(GOVERNANCE), GOVERNANCE, _advance_recovery),
    Restricted("reinstate", _only(GOVERNANCE), GOVERNANCE, _reinstate),
    # The council (VETOER) stops at once; governance may too. Neither: told it lacks VETOER.
    Restricted("pause", frozenset({GOVERNANCE, VETOER}), VETOER, _pause),
    Restricted("unpause", frozenset({GOVERNANCE, VETOER}), VETOER, _unpause),
    Restricted("publishEligibility", _only(ORACLE), ORACLE, _publish_eligibility),
    Restricted("setClassParams", _only(GOVERNANCE), GOVERNANCE, _set_class_params),
    Restricted("setVetoWindow", _only(GOVERNANCE), GOVERNANCE, _set_veto_window),
    Restricted("setMaxVerdictAge", _only(GOVERNANCE), GOVERNANCE, _set_max_verdict_age),
    Restricted("setMaxJailDuration", _only(GOVERNANCE), GOVERNANCE, _set_max_jail_duration),
    Restricted("setProbationEpochs", _only(GOVERNANCE), GOVERNANCE, _set_probation_epochs),
    Restricted("setTreasury", _only(GOVERNANCE), GOVERNANCE, _set_treasury),
    Restricted("setCaps", _only(GOVERNANCE), GOVERNANCE, _set_caps),
    Restricted("setSeverityBounds", _only(GOVERNANCE), GOVERNANCE, _set_severity_bounds),
    Restricted("setQuorum", _only(GOVERNANCE), GOVERNANCE, _set_quorum),
    Restricted("resolveAppeal", _only(VETOER), VETOER, _resolve_appeal),
    Restricted("setAppealParams", _only(GOVERNANCE), GOVERNANCE, _set_appeal_params),
    Restricted("grantRole", _only(ADMIN), ADMIN, _grant_role),
    Restricted("revokeRole", _only(ADMIN), ADMIN, _revoke_role),
    Restricted("beginDefaultAdminTransfer", _only(ADMIN), ADMIN, _begin_admin_transfer),
    Restricted("cancelDefaultAdminTransfer", _only(ADMIN), ADMIN, _cancel_admin_transfer),
    Restricted("changeDefaultAdminDelay", _only(ADMIN), ADMIN, _change_admin_delay),
    Restricted("rollbackDefaultAdminDelay", _only(ADMIN), ADMIN, _rollback_admin_delay),
    # The council's containment: it may take a detector's role at once, never grant one.
    Restricted("revokeDetector", _only(VETOER), VETOER, _revoke_detector),
    Restricted("revokeEligibility", _only(VETOER), VETOER, _revoke_eligibility),
    Restricted("sweepEpoch", _only(GOVERNANCE), GOVERNANCE, _sweep_epoch),
    Restricted("sweepExcess", _only(GOVERNANCE), GOVERNANCE, _sweep_excess),
    Restricted("setRewardChallengeDelay", _only(GOVERNANCE), GOVERNANCE, _set_reward_challenge_delay),
)
RESTRICTED_BY_NAME = {r.name: r for r in RESTRICTED}

# A devnet account holding each role, used to show a rejected call is otherwise valid.
HOLDER_OF = {
    ADMIN: "governance",
    GOVERNANCE: "governance",
    VETOER: "governance",
    SLASHER: "service",
    ORACLE: "service",
    DETECTOR: "detector",
}

UNAUTHORIZED_CASES = [
    pytest.param(r.name, who, id=f"{r.name}-by-{who}")
    for r in RESTRICTED
    for who, held in PERSONAS.items()
    if not (held & r.allowed)
]


def test_every_state_changing_abi_function_is_classified_as_restricted_or_open(chain: Chain) -> None:
    open_functions = {
        "register",
        "stake",
        "requestUnbond",
        "withdraw",
        "unjail",
        "executeSlash",
        "appealSlash",  # by the slashed provider only (tests/integration/test_contract_appeals.py)
        "fundRewards",
        "claim",
        "renounceRole",
        # by the pending admin only (test_the_admin_role_moves_only_in_two_steps)
        "acceptDefaultAdminTransfer",
    }
    mutating = {
        item["name"]
        for item in chain.staking.abi
        if item["type"] == "function" and item["stateMutability"] not in ("view", "pure")
    }
    assert mutating == set(RESTRICTED_BY_NAME) | open_functions


def test_personas_hold_exactly_the_roles_the_access_matrix_assumes(chain: Chain) -> None:
    for name, expected in PERSONAS.items():
        address = persona(chain, name)
        held = {role for role in ALL_ROLES if chain.staking.has_role(role, address)}
        assert held == expected, name


@pytest.mark.parametrize(("function", "who"), UNAUTHORIZED_CASES)
def test_restricted_function_rejects_every_caller_lacking_its_role(
    chain: Chain, function: str, who: str
) -> None:
    spec = RESTRICTED_BY_NAME[function]
    fn = spec.build(chain)
    caller = persona(chain, who)
    # The same call is valid for a holder of the role, so the rejection is due to the role alone.
    fn.call({"from": persona(chain, HOLDER_OF[min(spec.allowed)])})
    chain.expect_revert(
        fn, caller, "AccessControlUnauthorizedAccount", caller.lower(), role_id(spec.checked_role)
    )


# ---------------------------------------------------------------- role ids and admins


def test_role_constants_equal_keccak256_of_their_names(chain: Chain) -> None:
    for name in NAMED_ROLES:
        on_chain = chain.staking.contract.functions[name]().call()
        assert on_chain == keccak(text=name) == role_id(name), name
    assert chain.staking.contract.functions.DEFAULT_ADMIN_ROLE().call() == DEFAULT_ADMIN_ROLE == b"\x00" * 32


def test_default_admin_role_administers_every_role_including_itself(chain: Chain) -> None:
    for name in ALL_ROLES:
        assert chain.staking.contract.functions.getRoleAdmin(role_id(name)).call() == DEFAULT_ADMIN_ROLE, name


# DEFAULT_ADMIN_ROLE is granted by no one (test_the_admin_role_moves_only_in_two_steps).
@pytest.mark.parametrize("role", NAMED_ROLES)
def test_governance_only_account_cannot_grant_any_role(chain: Chain, role: str) -> None:
    gov_only = persona(chain, "governance_only")
    target = chain.account(SPARE_INDEX).address
    chain.expect_revert(
        chain.staking.grant_role(role, target),
        gov_only,
        "AccessControlUnauthorizedAccount",
        gov_only.lower(),
        DEFAULT_ADMIN_ROLE,
    )


@pytest.mark.parametrize("role", NAMED_ROLES)
def test_single_role_holder_cannot_grant_its_own_role_onwards(chain: Chain, role: str) -> None:
    holder = persona(chain, SINGLE_ROLE_PERSONA_FOR[role])
    chain.expect_revert(
        chain.staking.grant_role(role, chain.stranger),
        holder,
        "AccessControlUnauthorizedAccount",
        holder.lower(),
        DEFAULT_ADMIN_ROLE,
    )


def test_revoking_the_slasher_role_stops_the_service_from_jailing(chain: Chain) -> None:
    chain.tx(chain.staking.revoke_role(SLASHER, chain.service), chain.governance)
    v, sig = chain.signed(chain.providers[0])
    chain.expect_revert(
        chain.staking.jail(v, sig, 0),
        chain.service,
        "AccessControlUnauthorizedAccount",
        chain.service.lower(),
        role_id(SLASHER),
    )


def test_an_account_can_renounce_only_its_own_role(chain: Chain) -> None:
    renounce = chain.staking.contract.functions.renounceRole
    chain.expect_revert(
        renounce(role_id(SLASHER), chain.service), chain.stranger, "AccessControlBadConfirmation"
    )
    receipt = chain.tx(renounce(role_id(SLASHER), chain.service), chain.service)
    args = one_event(chain, receipt, "RoleRevoked")
    assert (args["role"], args["account"], args["sender"]) == (role_id(SLASHER), chain.service, chain.service)
    assert not chain.staking.has_role(SLASHER, chain.service)


# ---------------------------------------------------------------- success paths, one per function


def test_slasher_only_account_can_jail_with_a_detector_verdict(chain: Chain) -> None:
    slasher = persona(chain, "slasher_only")
    p = chain.providers[0]
    v, sig = chain.signed(p)
    until = chain.now() + 3_600
    receipt = chain.tx(chain.staking.jail(v, sig, until), slasher)
    args = one_event(chain, receipt, "Jailed")
    assert (args["provider"], args["verdictId"], args["until"]) == (p, v.id, until)
    assert (args["eventType"], args["severity"]) == (int(v.event_type), int(v.severity))
    assert chain.staking.is_jailed(p)
    assert chain.staking.provider(p).jailed_until == until
    assert chain.staking.contract.functions.verdictJailUsed(v.id).call()


def test_slasher_only_account_can_propose_a_slash(chain: Chain) -> None:
    slasher = persona(chain, "slasher_only")
    p = chain.providers[0]
    total = chain.staking.stake_of(p) + chain.staking.unbonding_of(p)
    v, sig = chain.signed(p)
    receipt = chain.tx(chain.staking.propose_slash(v, sig, 1_000), slasher)
    args = one_event(chain, receipt, "SlashProposed")
    record = chain.staking.slash(v.id)
    assert (args["id"], args["provider"], args["bps"], args["amount"]) == (v.id, p, 1_000, total // 10)
    assert args["evidenceHash"] == v.evidence_hash
    assert record.state == SlashState.PENDING
    assert record.executable_at == args["executableAt"] == record.proposed_at + chain.staking.veto_window()
    assert chain.staking.provider(p).pending_slashes == 1


def test_vetoer_only_account_can_veto_a_pending_slash(chain: Chain) -> None:
    vetoer = persona(chain, "vetoer_only")
    slash_id = _pending_slash(chain)
    why = reason("false positive")
    receipt = chain.tx(chain.staking.veto_slash(slash_id, why), vetoer)
    args = one_event(chain, receipt, "SlashVetoed")
    assert (args["id"], args["provider"], args["vetoer"], args["reasonHash"]) == (
        slash_id,
        chain.providers[0],
        vetoer,
        why,
    )
    assert chain.staking.slash_state(slash_id) == SlashState.VETOED
    assert chain.staking.provider(chain.providers[0]).pending_slashes == 0


def test_governance_only_account_can_tombstone_a_provider(chain: Chain) -> None:
    gov = persona(chain, "governance_only")
    p = chain.providers[1]
    why = reason("repeat offender")
    receipt = chain.tx(chain.staking.tombstone(p, why), gov)
    args = one_event(chain, receipt, "Tombstoned")
    assert (args["provider"], args["reasonHash"]) == (p, why)
    assert chain.staking.is_tombstoned(p)
    assert chain.staking.is_jailed(p)


@pytest.mark.parametrize("who", ["governance_only", "slasher_only"])
def test_governance_or_slasher_only_account_can_begin_recovery(chain: Chain, who: str) -> None:
    caller = persona(chain, who)
    p = chain.providers[0]
    receipt = chain.tx(chain.staking.begin_recovery(p, RecoveryPath.SERVICE_IMPROVEMENT), caller)
    args = one_event(chain, receipt, "RecoveryBegun")
    assert (args["provider"], args["path"], args["stage"]) == (
        p,
        RecoveryPath.SERVICE_IMPROVEMENT,
        RecoveryStage.RESPONSE,
    )
    record = chain.staking.provider(p)
    assert (record.recovery_path, record.recovery_stage) == (
        RecoveryPath.SERVICE_IMPROVEMENT,
        RecoveryStage.RESPONSE,
    )


def test_governance_only_account_can_advance_recovery(chain: Chain) -> None:
    gov = persona(chain, "governance_only")
    p = chain.providers[0]
    chain.tx(chain.staking.begin_recovery(p, RecoveryPath.SECURITY_REVIEW), chain.service)
    receipt = chain.tx(chain.staking.advance_recovery(p), gov)
    args = one_event(chain, receipt, "RecoveryAdvanced")
    assert (args["provider"], args["path"], args["stage"]) == (
        p,
        RecoveryPath.SECURITY_REVIEW,
        RecoveryStage.RECOVERY,
    )
    assert chain.staking.provider(p).recovery_stage == RecoveryStage.RECOVERY


def test_governance_only_account_can_reinstate_a_jailed_provider(chain: Chain) -> None:
    gov = persona(chain, "governance_only")
    p = chain.providers[0]
    chain.tx(_jail(chain), chain.service)
    assert chain.staking.is_jailed(p)
    receipt = chain.tx(chain.staking.reinstate(p), gov)
    args = one_event(chain, receipt, "Reinstated")
    probation = chain.staking.contract.functions.probationEpochs().call()
    assert (args["provider"], args["path"], args["probationEpochs"]) == (p, RecoveryPath.NONE, probation)
    assert not chain.staking.is_jailed(p)


# The council (VETOER alone) stops and resumes at once, without governance's timelock.
@pytest.mark.parametrize("who", ["governance_only", "vetoer_only"])
def test_governance_or_the_council_alone_can_pause_and_unpause(chain: Chain, who: str) -> None:
    account = persona(chain, who)
    receipt = chain.tx(chain.staking.pause(), account)
    assert one_event(chain, receipt, "Paused")["account"] == account
    assert chain.staking.paused()
    receipt = chain.tx(chain.staking.unpause(), account)
    assert one_event(chain, receipt, "Unpaused")["account"] == account
    assert not chain.staking.paused()


def test_rewards_oracle_only_account_can_publish_eligibility(chain: Chain) -> None:
    oracle = persona(chain, "rewards_oracle_only")
    epoch = _finished_epoch(chain)
    root = reason("root")
    receipt = chain.tx(chain.staking.publish_eligibility(epoch, root, 100, "ipfs://leaves"), oracle)
    args = one_event(chain, receipt, "EligibilityPublished")
    assert (args["epoch"], args["merkleRoot"], args["totalWeight"], args["uri"]) == (
        epoch,
        root,
        100,
        "ipfs://leaves",
    )
    record = chain.staking.epoch(epoch)
    assert record.published and record.merkle_root == root and record.total_weight == 100


def test_governance_only_account_can_set_class_params(chain: Chain) -> None:
    gov = persona(chain, "governance_only")
    receipt = chain.tx(_set_class_params(chain), gov)
    args = one_event(chain, receipt, "ClassParamsSet")
    assert (args["class"], args["baseMinStake"], args["perGpuMinStake"], args["unbondingPeriod"]) == (
        0,
        2_000 * TOKEN,
        250 * TOKEN,
        3 * 86_400,
    )
    params = chain.staking.class_params(ProviderClass.HARDWARE_PROVIDER)
    assert (params.base_min_stake, params.per_gpu_min_stake, params.unbonding_period) == (
        2_000 * TOKEN,
        250 * TOKEN,
        3 * 86_400,
    )


@pytest.mark.parametrize(
    ("setter", "event", "field", "getter", "value"),
    [
        ("setVetoWindow", "VetoWindowSet", "vetoWindow", "vetoWindow", 600),
        ("setMaxVerdictAge", "MaxVerdictAgeSet", "maxVerdictAge", "maxVerdictAge", 7_200),
        ("setMaxJailDuration", "MaxJailDurationSet", "maxJailDuration", "maxJailDuration", 7 * 86_400),
        ("setProbationEpochs", "ProbationEpochsSet", "probationEpochs", "probationEpochs", 5),
    ],
)
def test_governance_only_account_can_set_numeric_parameters(
    chain: Chain, setter: str, event: str, field: str, getter: str, value: int
) -> None:
    gov = persona(chain, "governance_only")
    functions = chain.staking.contract.functions
    assert functions[getter]().call() != value
    receipt = chain.tx(functions[setter](value), gov)
    assert one_event(chain, receipt, event)[field] == value
    assert functions[getter]().call() == value


def test_governance_only_account_can_set_the_treasury(chain: Chain) -> None:
    gov = persona(chain, "governance_only")
    new_treasury = chain.account(SPARE_INDEX).address
    receipt = chain.tx(_set_treasury(chain), gov)
    assert one_event(chain, receipt, "TreasurySet")["treasury"] == new_treasury
    assert chain.staking.treasury() == new_treasury


def test_the_admin_role_moves_only_in_two_steps(chain: Chain) -> None:
    fn = chain.staking.contract.functions
    new_admin = chain.account(NEW_ADMIN_INDEX).address
    # No shortcut: the admin role is never granted directly.
    chain.expect_revert(
        chain.staking.grant_role(ADMIN, new_admin), chain.governance, "AccessControlEnforcedDefaultAdminRules"
    )
    receipt = chain.tx(fn.beginDefaultAdminTransfer(new_admin), chain.governance)
    args = one_event(chain, receipt, "DefaultAdminTransferScheduled")
    assert args["newAdmin"] == new_admin
    # Step one alone moves nothing, and only the named account may take step two.
    assert chain.staking.has_role(ADMIN, chain.governance) and not chain.staking.has_role(ADMIN, new_admin)
    assert fn.pendingDefaultAdmin().call()[0] == new_admin
    chain.advance(1)
    chain.expect_revert(
        fn.acceptDefaultAdminTransfer(),
        chain.stranger,
        "AccessControlInvalidDefaultAdmin",
        chain.stranger.lower(),
    )
    receipt = chain.tx(fn.acceptDefaultAdminTransfer(), new_admin)
    granted = one_event(chain, receipt, "RoleGranted")
    assert (granted["role"], granted["account"]) == (DEFAULT_ADMIN_ROLE, new_admin)
    assert fn.defaultAdmin().call() == new_admin
    assert not chain.staking.has_role(ADMIN, chain.governance)

    # The new admin administers every role at once; the old one no longer does.
    grantee = chain.account(SPARE_INDEX).address
    receipt = chain.tx(chain.staking.grant_role(SLASHER, grantee), new_admin)
    args = one_event(chain, receipt, "RoleGranted")
    assert (args["role"], args["account"], args["sender"]) == (role_id(SLASHER), grantee, new_admin)
    v, sig = chain.signed(chain.providers[0])
    chain.tx(chain.staking.jail(v, sig, 0), grantee)  # the new role is effective immediately
    receipt = chain.tx(chain.staking.revoke_role(SLASHER, chain.service), new_admin)
    args = one_event(chain, receipt, "RoleRevoked")
    assert (args["role"], args["account"], args["sender"]) == (role_id(SLASHER), chain.service, new_admin)
    chain.expect_revert(
        chain.staking.grant_role(SLASHER, chain.stranger),
        chain.governance,
        "AccessControlUnauthorizedAccount",
        chain.governance.lower(),
        DEFAULT_ADMIN_ROLE,
    )


def test_a_scheduled_admin_transfer_waits_for_the_admin_delay(chain: Chain) -> None:
    fn = chain.staking.contract.functions
    new_admin = chain.account(NEW_ADMIN_INDEX).address
    chain.tx(fn.changeDefaultAdminDelay(3_600), chain.governance)
    # A longer delay takes effect only after the delay it sets (at most five days).
    _, effect = fn.pendingDefaultAdminDelay().call()
    chain.mine(effect + 1)
    assert fn.defaultAdminDelay().call() == 3_600
    chain.tx(fn.beginDefaultAdminTransfer(new_admin), chain.governance)
    _, schedule = fn.pendingDefaultAdmin().call()
    assert schedule >= chain.now() + 3_600 - 1
    chain.expect_revert(
        fn.acceptDefaultAdminTransfer(), new_admin, "AccessControlEnforcedDefaultAdminDelay", schedule
    )
    chain.mine(schedule + 1)
    chain.tx(fn.acceptDefaultAdminTransfer(), new_admin)
    assert fn.defaultAdmin().call() == new_admin


def test_the_council_revokes_a_detector_at_once_and_cannot_grant_one(chain: Chain) -> None:
    council = persona(chain, "vetoer_only")
    receipt = chain.tx(_revoke_detector(chain), council)
    args = one_event(chain, receipt, "RoleRevoked")
    assert (args["role"], args["account"], args["sender"]) == (role_id(DETECTOR), chain.detector, council)
    v, sig = chain.signed(chain.providers[0])
    chain.expect_revert(
        chain.staking.jail(v, sig, 0), chain.service, "InvalidVerdictSigner", chain.detector.lower()
    )
    chain.expect_revert(
        chain.staking.grant_role(DETECTOR, chain.detector),
        council,
        "AccessControlUnauthorizedAccount",
        council.lower(),
        DEFAULT_ADMIN_ROLE,
    )


def test_slasher_only_account_can_propose_a_slash_on_a_quorum_of_signatures(chain: Chain) -> None:
    slasher = persona(chain, "slasher_only")
    p = chain.providers[0]
    v, sig = chain.signed(p)
    receipt = chain.tx(chain.staking.propose_slash_quorum(v, [sig], 1_000), slasher)
    assert one_event(chain, receipt, "SlashCoSigned") == {"id": v.id, "signers": [chain.detector]}
    assert one_event(chain, receipt, "SlashProposed")["id"] == v.id
    assert chain.staking.slash_state(v.id) == SlashState.PENDING


def test_slasher_only_account_can_jail_and_propose_a_slash_in_one_call(chain: Chain) -> None:
    slasher = persona(chain, "slasher_only")
    p = chain.providers[0]
    v, sig = chain.signed(p)
    receipt = chain.tx(chain.staking.jail_and_propose_slash(v, sig, 0, 1_000), slasher)
    assert one_event(chain, receipt, "Jailed")["verdictId"] == v.id
    assert one_event(chain, receipt, "SlashProposed")["id"] == v.id
    assert chain.staking.is_jailed(p) and chain.staking.slash_state(v.id) == SlashState.PENDING


def test_vetoer_only_account_can_veto_slashes_in_a_batch(chain: Chain) -> None:
    vetoer = persona(chain, "vetoer_only")
    ids = [_pending_slash(chain), _pending_slash(chain)]
    why = reason("rogue detector")
    receipt = chain.tx(chain.staking.veto_slashes(ids, why), vetoer)
    vetoes = [e["args"] for e in events(chain, receipt, "SlashVetoed")]
    assert [(a["id"], a["vetoer"], a["reasonHash"]) for a in vetoes] == [(i, vetoer, why) for i in ids]
    assert all(chain.staking.slash_state(i) == SlashState.VETOED for i in ids)


def test_vetoer_only_account_can_lift_jails(chain: Chain) -> None:
    vetoer = persona(chain, "vetoer_only")
    p = chain.providers[0]
    chain.tx(_jail(chain), chain.service)
    why = reason("rogue detector")
    receipt = chain.tx(chain.staking.lift_jails([p], why), vetoer)
    assert one_event(chain, receipt, "JailLifted") == {"provider": p, "by": vetoer, "reasonHash": why}
    assert not chain.staking.is_jailed(p)


def test_governance_only_account_can_release_and_slash_a_tombstoned_provider(chain: Chain) -> None:
    gov = persona(chain, "governance_only")
    p = _tombstoned(chain)
    why = reason("forfeit")
    receipt = chain.tx(chain.staking.slash_tombstoned(p, 2_500, why), gov)
    slash_id = keccak(encode(["address", "bytes32"], [p, why]))
    assert one_event(chain, receipt, "SlashProposed")["id"] == slash_id
    receipt = chain.tx(chain.staking.release_tombstoned(p), gov)
    assert one_event(chain, receipt, "TombstonedStakeReleased") == {"provider": p, "by": gov}
    assert chain.staking.is_released(p)


def test_governance_only_account_can_set_the_caps_the_bounds_and_the_quorum(chain: Chain) -> None:
    gov = persona(chain, "governance_only")
    receipt = chain.tx(_set_caps(chain), gov)
    assert one_event(chain, receipt, "CapsSet") == {
        "window": 86_400,
        "jailCap": 10,
        "slashCapBps": 500,
        "maxSlashBps": 10_000,
    }
    receipt = chain.tx(_set_severity_bounds(chain), gov)
    assert one_event(chain, receipt, "SeverityBoundsSet") == {"bounds": [500, 1_000, 2_500, 5_000]}
    receipt = chain.tx(_set_quorum(chain), gov)
    assert one_event(chain, receipt, "QuorumSet") == {"quorum": 2, "quorumBps": 1_000}
    caps = chain.staking.caps()
    assert (caps.window, caps.jail_cap, caps.slash_cap_bps, caps.max_slash_bps) == (86_400, 10, 500, 10_000)
    assert caps.severity_bounds == (500, 1_000, 2_500, 5_000)
    assert (caps.quorum, caps.quorum_bps) == (2, 1_000)


# ---------------------------------------------------------------- permissionless functions


def test_stranger_can_execute_a_matured_slash(chain: Chain) -> None:
    slash_id = _pending_slash(chain)
    record = chain.staking.slash(slash_id)
    treasury_before = chain.token.balance_of(chain.treasury)
    chain.mine(record.executable_at)
    receipt = chain.tx(chain.staking.execute_slash(slash_id), chain.stranger)
    args = one_event(chain, receipt, "SlashExecuted")
    assert (args["id"], args["provider"], args["amount"]) == (slash_id, chain.providers[0], record.amount)
    assert chain.staking.slash_state(slash_id) == SlashState.EXECUTED
    assert chain.token.balance_of(chain.treasury) == treasury_before + record.amount


def test_role_less_provider_can_unjail_itself_after_a_timed_jail(chain: Chain) -> None:
    p = chain.providers[0]
    assert not any(chain.staking.has_role(role, p) for role in ALL_ROLES)
    v, sig = chain.signed(p)
    until = chain.now() + 3_600
    chain.tx(chain.staking.jail(v, sig, until), chain.service)
    chain.mine(until)
    receipt = chain.tx(chain.staking.unjail(), p)
    args = one_event(chain, receipt, "Unjailed")
    assert (args["provider"], args["by"]) == (p, p)
    assert not chain.staking.is_jailed(p)


def test_stranger_can_register_and_stake(chain: Chain) -> None:
    stranger = chain.stranger
    amount = 200 * TOKEN
    chain.tx(chain.token.transfer(stranger, amount), chain.governance)
    receipt = chain.tx(chain.staking.register(ProviderClass.PLATFORM_USER, 0, "ipfs://stranger"), stranger)
    args = one_event(chain, receipt, "ProviderRegistered")
    assert (args["provider"], args["class"], args["metadataURI"]) == (stranger, 2, "ipfs://stranger")
    chain.tx(chain.token.approve(chain.staking.address, amount), stranger)
    receipt = chain.tx(chain.staking.stake(amount), stranger)
    args = one_event(chain, receipt, "Staked")
    assert (args["provider"], args["amount"], args["active"]) == (stranger, amount, amount)
    assert chain.staking.stake_of(stranger) == amount


def test_role_less_account_can_fund_rewards_and_claim_its_share(chain: Chain) -> None:
    claimer = chain.account(SPARE_INDEX).address
    funder = chain.stranger
    pool = 1_000 * TOKEN
    chain.tx(chain.token.transfer(funder, pool), chain.governance)
    chain.tx(chain.token.approve(chain.staking.address, pool), funder)
    epoch = chain.staking.current_epoch()
    chain.tx(chain.staking.fund_rewards(epoch, pool), funder)
    weight = 7
    leaf = keccak(keccak(encode(["address", "uint256"], [to_checksum_address(claimer), weight])))
    epoch_length = chain.staking.contract.functions.epochLength().call()
    chain.advance(epoch_length)
    chain.tx(chain.staking.publish_eligibility(epoch, leaf, weight, "ipfs://leaves"), chain.service)
    before = chain.token.balance_of(claimer)
    receipt = chain.tx(chain.staking.claim(epoch, weight, []), claimer)
    args = one_event(chain, receipt, "RewardClaimed")
    assert (args["epoch"], args["account"], args["weight"], args["amount"]) == (epoch, claimer, weight, pool)
    assert chain.token.balance_of(claimer) == before + pool


def test_vetoer_only_account_can_resolve_an_appeal(chain: Chain) -> None:
    vetoer = persona(chain, "vetoer_only")
    fn = _resolve_appeal(chain)
    receipt = chain.tx(fn, vetoer)
    args = one_event(chain, receipt, "AppealResolved")
    assert (args["upheld"], args["reasonHash"]) == (False, reason("evidence does not hold"))
    assert chain.staking.appeal_of(args["id"]) == 3


def test_governance_only_account_can_set_the_appeal_params(chain: Chain) -> None:
    receipt = chain.tx(_set_appeal_params(chain), persona(chain, "governance_only"))
    args = one_event(chain, receipt, "AppealParamsSet")
    assert (args["bond"], args["grace"], args["timeout"]) == (50 * TOKEN, 3_600, 2 * 86_400)
    params = chain.staking.appeal_params()
    assert (params.bond, params.grace, params.timeout) == (50 * TOKEN, 3_600, 2 * 86_400)
