"""What one slash proposal may carry (SPEC section 8), on a real Anvil: `maxSlashBps`, the bound of
the verdict's severity, and the detector quorum above `quorumBps` (`proposeSlashQuorum`: distinct
DETECTOR_ROLE signers of the same verdict, ascending by address). The devnet opens these bounds
wide; each test sets its own with the governance account.
"""

from __future__ import annotations

import pytest

from staking.domain.vocabulary import Severity, SlashState
from staking.verdict import Verdict
from tests.support.chain import Chain
from tests.support.signing import signature

pytestmark = pytest.mark.integration

PRODUCTION_BOUNDS = (500, 1_000, 2_500, 5_000)  # low, medium, high, critical
SECOND_DETECTOR, THIRD_DETECTOR, NOT_A_DETECTOR = 16, 17, 18  # funded Anvil accounts without roles


def signed_by(chain: Chain, v: Verdict, keys: list[bytes]) -> list[bytes]:
    chain_id, contract = chain.verdict_domain()
    return [signature(v, chain_id, contract, key) for key in keys]


def ascending(chain: Chain, *indices: int) -> list[bytes]:
    """The keys of devnet accounts `indices`, ordered by address as proposeSlashQuorum wants them."""
    accounts = sorted((chain.account(i) for i in indices), key=lambda a: int(a.address, 16))
    return [bytes(a.key) for a in accounts]


def two_detectors(chain: Chain) -> list[bytes]:
    chain.grant_detector(SECOND_DETECTOR)
    return ascending(chain, 2, SECOND_DETECTOR)  # account 2 is the provisioned detector


# ---------------------------------------------------------------------------------------- bps bounds


def test_no_proposal_may_take_more_than_max_slash_bps_on_any_path(chain: Chain) -> None:
    chain.bound(max_slash_bps=5_000, severity_bounds=(5_000,) * 4)
    s, p = chain.staking, chain.providers[0]
    v, sig = chain.signed(p)
    chain.expect_revert(s.propose_slash(v, sig, 5_001), chain.service, "InvalidBps", 5_001)
    chain.expect_revert(s.propose_slash_quorum(v, [sig], 5_001), chain.service, "InvalidBps", 5_001)
    chain.expect_revert(s.jail_and_propose_slash(v, sig, 0, 5_001), chain.service, "InvalidBps", 5_001)
    chain.expect_revert(s.propose_slash(v, sig, 0), chain.service, "InvalidBps", 0)
    chain.tx(s.propose_slash(v, sig, 5_000), chain.service)
    assert s.slash(v.id).bps == 5_000
    assert s.contract.functions.maxSlashBps().call() == 5_000


def test_a_verdict_carries_at_most_the_bound_of_its_severity(chain: Chain) -> None:
    chain.bound(max_slash_bps=5_000, severity_bounds=PRODUCTION_BOUNDS)
    s, p = chain.staking, chain.providers[0]
    f = s.contract.functions
    assert [f.maxSlashBpsFor(int(sev)).call() for sev in Severity] == list(PRODUCTION_BOUNDS)
    assert f.maxSlashBpsFor(4).call() == 0  # not a severity
    # The audit's PoC: a low verdict reused for a 100 % slash with a stolen service key.
    low, low_sig = chain.signed(p, severity=Severity.LOW)
    chain.expect_revert(s.propose_slash(low, low_sig, 10_000), chain.service, "InvalidBps", 10_000)
    for severity, bound in zip(Severity, PRODUCTION_BOUNDS, strict=True):
        v, sig = chain.signed(p, severity=severity)
        chain.expect_revert(s.propose_slash(v, sig, bound + 1), chain.service, "InvalidBps", bound + 1)
        chain.expect_revert(
            s.jail_and_propose_slash(v, sig, 0, bound + 1), chain.service, "InvalidBps", bound + 1
        )
        r = chain.tx(s.propose_slash(v, sig, bound), chain.service)
        assert chain.one_event(r, "SlashProposed")["severity"] == int(severity)
        assert s.slash(v.id).bps == bound


def test_set_severity_bounds_keeps_them_non_decreasing_and_within_max_slash_bps(chain: Chain) -> None:
    chain.bound(max_slash_bps=5_000, severity_bounds=PRODUCTION_BOUNDS)
    s, gov = chain.staking, chain.governance
    for bounds in ((1_000, 500, 2_500, 5_000), (500, 1_000, 5_000, 2_500), (500, 1_000, 2_500, 5_001)):
        chain.expect_revert(s.set_severity_bounds(bounds), gov, "ParameterOutOfBounds")
    r = chain.tx(s.set_severity_bounds((0, 0, 5_000, 5_000)), gov)  # equal neighbours are fine
    assert chain.one_event(r, "SeverityBoundsSet") == {"bounds": [0, 0, 5_000, 5_000]}
    assert s.caps().severity_bounds == (0, 0, 5_000, 5_000)
    v, sig = chain.signed(chain.providers[0], severity=Severity.MEDIUM)
    chain.expect_revert(s.propose_slash(v, sig, 1), chain.service, "InvalidBps", 1)  # a zero bound
    for caller in (chain.service, chain.detector, chain.stranger):
        chain.expect_revert(
            s.set_severity_bounds(PRODUCTION_BOUNDS), caller, "AccessControlUnauthorizedAccount"
        )


# ---------------------------------------------------------------------------------------- quorum


def test_one_signature_carries_at_most_quorum_bps(chain: Chain) -> None:
    chain.bound(quorum=2, quorum_bps=1_000)
    s, p = chain.staking, chain.providers[0]
    v, sig = chain.signed(p)
    chain.expect_revert(s.propose_slash(v, sig, 1_001), chain.service, "QuorumNotMet", 1, 2)
    chain.expect_revert(s.propose_slash_quorum(v, [sig], 1_001), chain.service, "QuorumNotMet", 1, 2)
    chain.expect_revert(s.jail_and_propose_slash(v, sig, 0, 1_001), chain.service, "QuorumNotMet", 1, 2)
    r = chain.tx(s.propose_slash(v, sig, 1_000), chain.service)
    assert chain.one_event(r, "SlashProposed")["bps"] == 1_000


def test_a_quorum_of_distinct_detectors_may_propose_above_quorum_bps(chain: Chain) -> None:
    chain.bound(quorum=2, quorum_bps=1_000)
    s, p = chain.staking, chain.providers[1]  # 5,000 staked
    keys = two_detectors(chain)
    v = chain.verdict(p)
    r = chain.tx(s.propose_slash_quorum(v, signed_by(chain, v, keys), 5_000), chain.service)
    signers = sorted((chain.detector, chain.account(SECOND_DETECTOR).address), key=lambda a: int(a, 16))
    assert chain.one_event(r, "SlashCoSigned") == {"id": v.id, "signers": signers}
    proposed = chain.one_event(r, "SlashProposed")
    assert (proposed["id"], proposed["bps"], proposed["amount"]) == (v.id, 5_000, 2_500 * 10**18)
    assert s.slash_state(v.id) == SlashState.PENDING
    # The same verdict cannot be proposed again, on either path.
    chain.expect_revert(
        s.propose_slash_quorum(v, signed_by(chain, v, keys), 5_000), chain.service, "SlashAlreadyExists", v.id
    )


def test_quorum_signatures_must_be_distinct_detectors_in_ascending_address_order(chain: Chain) -> None:
    chain.bound(quorum=2, quorum_bps=1_000)
    s, p = chain.staking, chain.providers[0]
    low, high = two_detectors(chain)
    low_address, high_address = (chain.w3.eth.account.from_key(k).address.lower() for k in (low, high))
    v = chain.verdict(p)
    sig_low, sig_high = signed_by(chain, v, [low, high])
    chain.expect_revert(
        s.propose_slash_quorum(v, [sig_high, sig_low], 5_000),
        chain.service,
        "SignersNotAscending",
        high_address,
        low_address,
    )
    chain.expect_revert(
        s.propose_slash_quorum(v, [sig_low, sig_low], 5_000),
        chain.service,
        "SignersNotAscending",
        low_address,
        low_address,
    )
    stranger_key = bytes(chain.account(NOT_A_DETECTOR).key)
    keys = sorted((low, stranger_key), key=lambda k: int(chain.w3.eth.account.from_key(k).address, 16))
    outsider = chain.account(NOT_A_DETECTOR).address.lower()
    chain.expect_revert(
        s.propose_slash_quorum(v, signed_by(chain, v, keys), 5_000),
        chain.service,
        "InvalidVerdictSigner",
        outsider,
    )
    other = chain.verdict(p)  # a detector's signature of another verdict is not one of this one
    chain.expect_revert(
        s.propose_slash_quorum(v, [sig_low, *signed_by(chain, other, [high])], 5_000),
        chain.service,
        "InvalidVerdictSigner",
    )
    chain.expect_revert(s.propose_slash_quorum(v, [], 5_000), chain.service, "QuorumNotMet", 0, 2)
    chain.expect_revert(
        s.propose_slash_quorum(v, [sig_low] * 17, 5_000), chain.service, "QuorumNotMet", 16, 2
    )
    # A revoked detector no longer counts.
    chain.tx(s.revoke_role("DETECTOR_ROLE", chain.account(SECOND_DETECTOR).address), chain.governance)
    chain.expect_revert(
        s.propose_slash_quorum(v, [sig_low, sig_high], 5_000), chain.service, "InvalidVerdictSigner"
    )


def test_a_larger_quorum_needs_that_many_signers(chain: Chain) -> None:
    chain.bound(quorum=3, quorum_bps=0)  # every proposal needs three detectors
    s, p = chain.staking, chain.providers[0]
    chain.grant_detector(SECOND_DETECTOR)
    chain.grant_detector(THIRD_DETECTOR)
    v, sig = chain.signed(p)
    chain.expect_revert(s.propose_slash(v, sig, 1), chain.service, "QuorumNotMet", 1, 3)
    two = signed_by(chain, v, ascending(chain, 2, SECOND_DETECTOR))
    chain.expect_revert(s.propose_slash_quorum(v, two, 1), chain.service, "QuorumNotMet", 2, 3)
    three = signed_by(chain, v, ascending(chain, 2, SECOND_DETECTOR, THIRD_DETECTOR))
    r = chain.tx(s.propose_slash_quorum(v, three, 1), chain.service)
    assert len(chain.one_event(r, "SlashCoSigned")["signers"]) == 3


def test_set_quorum_enforces_its_bounds_on_each_side_and_emits_quorum_set(chain: Chain) -> None:
    s, gov = chain.staking, chain.governance
    assert s.contract.functions.MAX_QUORUM().call() == 16
    for quorum, bps in ((0, 1_000), (17, 1_000), (2, 10_001)):
        chain.expect_revert(s.set_quorum(quorum, bps), gov, "ParameterOutOfBounds")
    for quorum, bps in ((1, 0), (16, 10_000), (2, 1_000)):
        r = chain.tx(s.set_quorum(quorum, bps), gov)
        assert chain.one_event(r, "QuorumSet") == {"quorum": quorum, "quorumBps": bps}
    caps = s.caps()
    assert (caps.quorum, caps.quorum_bps) == (2, 1_000)
    for caller in (chain.service, chain.detector, chain.stranger):
        chain.expect_revert(s.set_quorum(2, 1_000), caller, "AccessControlUnauthorizedAccount")
