"""EIP-712 verdict verification shared by `jail` and `proposeSlash`.

Both entry points must accept only a fresh, well-formed verdict about a registered provider,
signed under this deployment's domain by an account that currently holds DETECTOR_ROLE.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak, to_checksum_address
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD

from staking.domain.vocabulary import EventType, Severity, SlashState
from staking.verdict import (
    DOMAIN_NAME,
    DOMAIN_VERSION,
    VERDICT_TYPES,
    Domain,
    Verdict,
    recover_signer,
    typed_data,
)
from tests.support.chain import Chain

pytestmark = pytest.mark.integration

ZERO_ADDRESS = "0x" + "00" * 20
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SLASH_BPS = 1_000
ACTIONS = ("jail", "proposeSlash")

RawVerdict = tuple[bytes, str, int, int, int, bytes]


@pytest.fixture(params=ACTIONS)
def action(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def submit(chain: Chain, action: str, verdict: Verdict | RawVerdict, signature: bytes) -> ContractFunction:
    """The unsent `jail` (indefinite) or `proposeSlash` (10 %) call for `verdict`."""
    raw = verdict.as_tuple() if isinstance(verdict, Verdict) else verdict
    functions = chain.staking.contract.functions
    if action == "jail":
        return functions.jail(raw, signature, 0)
    return functions.proposeSlash(raw, signature, SLASH_BPS)


def sign_raw(chain: Chain, raw: RawVerdict, key: bytes) -> bytes:
    """EIP-712 signature of an arbitrary verdict tuple (no enum validation) under the live domain."""
    message = {
        "types": VERDICT_TYPES,
        "primaryType": "Verdict",
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": chain.w3.eth.chain_id,
            "verifyingContract": chain.staking.address,
        },
        "message": {
            "id": raw[0],
            "provider": raw[1],
            "eventType": raw[2],
            "severity": raw[3],
            "detectedAt": raw[4],
            "evidenceHash": raw[5],
        },
    }
    signable = encode_typed_data(full_message=message)
    return bytes(Account.sign_message(signable, private_key=key).signature)


def signer_key(chain: Chain, address: str) -> bytes:
    """Private key of a devnet-mnemonic account by address."""
    for index in range(20):
        account = chain.account(index)
        if account.address == to_checksum_address(address):
            return bytes(account.key)
    raise LookupError(address)


def assert_accepted(chain: Chain, action: str, verdict: Verdict, signature: bytes) -> None:
    receipt = chain.tx(submit(chain, action, verdict, signature), chain.service)
    if action == "jail":
        (log,) = chain.staking.contract.events.Jailed().process_receipt(receipt, errors=DISCARD)
        assert (log["args"]["provider"], log["args"]["verdictId"]) == (verdict.provider, verdict.id)
        assert chain.staking.is_jailed(verdict.provider)
    else:
        (log,) = chain.staking.contract.events.SlashProposed().process_receipt(receipt, errors=DISCARD)
        assert (log["args"]["id"], log["args"]["provider"]) == (verdict.id, verdict.provider)
        assert chain.staking.slash_state(verdict.id) == SlashState.PENDING


def assert_untouched(chain: Chain, verdict_id: bytes, provider: str) -> None:
    assert not chain.staking.is_jailed(provider)
    assert chain.staking.slash_state(verdict_id) == SlashState.NONE


# ---------------------------------------------------------------- baseline


def test_detector_signed_fresh_verdict_is_accepted(chain: Chain, action: str) -> None:
    v, sig = chain.signed(chain.providers[0])
    assert_accepted(chain, action, v, sig)


def test_verdicts_with_lowest_and_highest_valid_event_type_and_severity_are_accepted(
    chain: Chain, action: str
) -> None:
    v, sig = chain.signed(
        chain.providers[0], event_type=EventType.OPERATIONAL_FAILURE, severity=Severity.CRITICAL
    )
    assert_accepted(chain, action, v, sig)
    v, sig = chain.signed(chain.providers[1], event_type=EventType.SECURITY_BREACH, severity=Severity.LOW)
    assert_accepted(chain, action, v, sig)


def test_newly_granted_detector_signature_is_accepted(chain: Chain, action: str) -> None:
    new_detector = chain.account(16)
    chain.tx(chain.staking.grant_role("DETECTOR_ROLE", new_detector.address), chain.governance)
    v = chain.verdict(chain.providers[0])
    assert_accepted(chain, action, v, chain.sign(v, key=bytes(new_detector.key)))


# ---------------------------------------------------------------- wrong signer


@pytest.mark.parametrize("signer", ["random_key", "service", "governance", "provider_itself"])
def test_verdict_signed_by_an_account_without_detector_role_is_rejected(
    chain: Chain, action: str, signer: str
) -> None:
    p = chain.providers[0]
    if signer == "random_key":
        account = Account.create()
        key, address = bytes(account.key), account.address
    else:
        address = {"service": chain.service, "governance": chain.governance, "provider_itself": p}[signer]
        key = signer_key(chain, address)
    assert not chain.staking.has_role("DETECTOR_ROLE", address)
    v = chain.verdict(p)
    chain.expect_revert(
        submit(chain, action, v, chain.sign(v, key=key)),
        chain.service,
        "InvalidVerdictSigner",
        address.lower(),
    )


def test_stolen_service_key_alone_cannot_jail_or_slash(chain: Chain, action: str) -> None:
    # The service holds SLASHER_ROLE; signing its own verdict must not stand in for a detector.
    v = chain.verdict(chain.providers[0])
    service_sig = chain.sign(v, key=signer_key(chain, chain.service))
    chain.expect_revert(
        submit(chain, action, v, service_sig), chain.service, "InvalidVerdictSigner", chain.service.lower()
    )
    assert_untouched(chain, v.id, v.provider)


def test_verdict_signed_by_a_revoked_detector_is_rejected(chain: Chain, action: str) -> None:
    v, sig = chain.signed(chain.providers[0])
    chain.tx(chain.staking.revoke_role("DETECTOR_ROLE", chain.detector), chain.governance)
    chain.expect_revert(
        submit(chain, action, v, sig), chain.service, "InvalidVerdictSigner", chain.detector.lower()
    )


# ---------------------------------------------------------------- wrong domain


@pytest.mark.parametrize("domain", ["chain_id_1", "token_as_verifying_contract"])
def test_verdict_signed_for_another_domain_is_rejected(chain: Chain, action: str, domain: str) -> None:
    v = chain.verdict(chain.providers[0])
    wrong_domain: dict[str, Any] = {
        "chain_id_1": {"chain_id": 1},
        "token_as_verifying_contract": {"contract": chain.token.address},
    }[domain]
    sig = chain.sign(v, **wrong_domain)
    recovered = recover_signer(v, chain.staking.domain(), sig)
    assert recovered != chain.detector
    chain.expect_revert(
        submit(chain, action, v, sig), chain.service, "InvalidVerdictSigner", recovered.lower()
    )


# ---------------------------------------------------------------- tampering


@pytest.mark.parametrize(
    "field", ["id", "provider", "event_type", "severity", "detected_at", "evidence_hash"]
)
def test_verdict_tampered_after_signing_is_rejected(chain: Chain, action: str, field: str) -> None:
    v, sig = chain.signed(
        chain.providers[0],
        event_type=EventType.POLICY_VIOLATION,
        severity=Severity.LOW,
        detected_at=chain.now() - 10,
    )
    changes: dict[str, Any] = {
        "id": os.urandom(32),
        "provider": chain.providers[1],
        "event_type": EventType.SECURITY_BREACH,
        "severity": Severity.CRITICAL,
        "detected_at": v.detected_at - 1,
        "evidence_hash": keccak(b"other evidence"),
    }
    tampered = dataclasses.replace(v, **{field: changes[field]})
    recovered = recover_signer(tampered, chain.staking.domain(), sig)
    assert recovered != chain.detector
    chain.expect_revert(
        submit(chain, action, tampered, sig), chain.service, "InvalidVerdictSigner", recovered.lower()
    )
    assert_untouched(chain, tampered.id, tampered.provider)


# ---------------------------------------------------------------- malformed signatures


def _high_s(sig: bytes) -> bytes:
    """The malleable twin of a valid signature: ecrecover accepts it, OpenZeppelin must not."""
    r, s, v = sig[:32], int.from_bytes(sig[32:64], "big"), sig[64]
    return r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])  # 27 <-> 28


MALFORMED = {
    "64_bytes": lambda sig: sig[:64],
    "empty": lambda sig: b"",
    "66_bytes": lambda sig: sig + b"\x00",
    "all_zero_65_bytes": lambda sig: b"\x00" * 65,
    "v_is_0_not_27": lambda sig: sig[:64] + bytes([sig[64] - 27]),
    "high_s_malleable": _high_s,
}


@pytest.mark.parametrize("kind", list(MALFORMED))
def test_malformed_signature_is_rejected_with_zero_signer(chain: Chain, action: str, kind: str) -> None:
    v, sig = chain.signed(chain.providers[0])
    bad = MALFORMED[kind](sig)
    chain.expect_revert(submit(chain, action, v, bad), chain.service, "InvalidVerdictSigner", ZERO_ADDRESS)
    assert_untouched(chain, v.id, v.provider)


def test_high_s_twin_recovers_the_detector_in_python_but_is_refused_on_chain(chain: Chain) -> None:
    v, sig = chain.signed(chain.providers[0])
    twin = _high_s(sig)
    # The twin is a mathematically valid signature by the detector ...
    assert recover_signer(v, chain.staking.domain(), twin) == chain.detector
    # ... and the contract still refuses it, so a signature cannot be re-encoded for a second use.
    chain.expect_revert(submit(chain, "jail", v, twin), chain.service, "InvalidVerdictSigner", ZERO_ADDRESS)


# ---------------------------------------------------------------- freshness


def test_verdict_older_than_max_age_is_rejected(chain: Chain, action: str) -> None:
    max_age = chain.staking.max_verdict_age()
    detected_at = chain.now() - max_age - 100
    v, sig = chain.signed(chain.providers[0], detected_at=detected_at)
    chain.expect_revert(submit(chain, action, v, sig), chain.service, "VerdictExpired", detected_at, max_age)


def test_verdict_exactly_max_age_old_is_accepted_and_one_second_older_is_rejected(
    chain: Chain, action: str
) -> None:
    max_age = chain.staking.max_verdict_age()
    at = chain.now() + 20
    v, sig = chain.signed(chain.providers[0], detected_at=at - max_age)
    receipt = chain.tx_at(at, submit(chain, action, v, sig), chain.service)
    assert receipt["status"] == 1
    assert chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"] == at

    later = at + 20
    v2, sig2 = chain.signed(chain.providers[1], detected_at=later - max_age - 1)
    chain.expect_revert_at(later, submit(chain, action, v2, sig2), chain.service, "VerdictExpired")
    assert_untouched(chain, v2.id, v2.provider)


def test_verdict_from_the_future_is_rejected(chain: Chain, action: str) -> None:
    detected_at = chain.now() + 1_000
    v, sig = chain.signed(chain.providers[0], detected_at=detected_at)
    chain.expect_revert(submit(chain, action, v, sig), chain.service, "VerdictFromFuture", detected_at)


def test_verdict_detected_in_the_same_second_is_accepted_and_one_second_later_is_rejected(
    chain: Chain, action: str
) -> None:
    at = chain.now() + 20
    v, sig = chain.signed(chain.providers[0], detected_at=at)
    assert chain.tx_at(at, submit(chain, action, v, sig), chain.service)["status"] == 1

    later = at + 20
    v2, sig2 = chain.signed(chain.providers[1], detected_at=later + 1)
    chain.expect_revert_at(later, submit(chain, action, v2, sig2), chain.service, "VerdictFromFuture")
    assert_untouched(chain, v2.id, v2.provider)


# ---------------------------------------------------------------- malformed verdicts


@pytest.mark.parametrize(
    ("case", "event_type", "severity", "zero_id"),
    [
        ("event_type_6", 6, 3, False),
        ("event_type_255", 255, 3, False),
        ("severity_4", 0, 4, False),
        ("severity_255", 0, 255, False),
        ("zero_id", 0, 3, True),
    ],
)
def test_out_of_range_enum_or_zero_id_is_an_invalid_verdict_even_when_detector_signed(
    chain: Chain, action: str, case: str, event_type: int, severity: int, zero_id: bool
) -> None:
    raw: RawVerdict = (
        b"\x00" * 32 if zero_id else os.urandom(32),
        chain.providers[0],
        event_type,
        severity,
        chain.now(),
        keccak(text=case),
    )
    sig = sign_raw(chain, raw, signer_key(chain, chain.detector))
    chain.expect_revert(submit(chain, action, raw, sig), chain.service, "InvalidVerdict")


def test_verdict_about_an_unregistered_provider_is_rejected(chain: Chain, action: str) -> None:
    v, sig = chain.signed(chain.stranger)
    chain.expect_revert(submit(chain, action, v, sig), chain.service, "NotRegistered", chain.stranger.lower())


# ---------------------------------------------------------------- replay


def test_verdict_cannot_jail_twice(chain: Chain) -> None:
    v, sig = chain.signed(chain.providers[0], detected_at=chain.now())
    chain.tx(chain.staking.jail(v, sig, 0), chain.service)
    chain.expect_revert(chain.staking.jail(v, sig, 0), chain.service, "VerdictAlreadyUsed", v.id)


def test_verdict_cannot_propose_two_slashes(chain: Chain) -> None:
    v, sig = chain.signed(chain.providers[0])
    chain.tx(chain.staking.propose_slash(v, sig, SLASH_BPS), chain.service)
    chain.expect_revert(
        chain.staking.propose_slash(v, sig, SLASH_BPS), chain.service, "SlashAlreadyExists", v.id
    )


# ---------------------------------------------------------------- Python <-> Solidity agreement


def test_verdict_typehash_matches_the_python_type_definition(chain: Chain) -> None:
    fields = ",".join(f"{f['type']} {f['name']}" for f in VERDICT_TYPES["Verdict"])
    assert chain.staking.contract.functions.VERDICT_TYPEHASH().call() == keccak(text=f"Verdict({fields})")


def test_domain_separator_matches_the_python_domain(chain: Chain) -> None:
    v = chain.verdict(chain.providers[0])
    signable = encode_typed_data(full_message=typed_data(v, chain.staking.domain()))
    assert chain.staking.contract.functions.domainSeparator().call() == signable.header


@pytest.mark.parametrize("seed", range(4))
def test_python_digest_and_recover_signer_agree_with_the_contract_verdict_digest(
    chain: Chain, seed: int
) -> None:
    v = chain.verdict(
        chain.providers[seed],
        event_type=EventType(seed + 1),
        severity=Severity(seed),
        detected_at=chain.now() - seed * 97,
    )
    domain = chain.staking.domain()
    signable = encode_typed_data(full_message=typed_data(v, domain))
    python_digest = keccak(b"\x19\x01" + signable.header + signable.body)
    assert chain.staking.contract.functions.verdictDigest(v.as_tuple()).call() == python_digest

    sig = chain.sign(v)
    assert recover_signer(v, domain, sig) == chain.detector
    # The on-chain recovery of the same signature agrees: the verdict is accepted.
    assert_accepted(chain, "proposeSlash", v, sig)


def test_python_recover_signer_rejects_a_64_byte_signature(chain: Chain) -> None:
    v, sig = chain.signed(chain.providers[0])
    with pytest.raises(ValueError, match="65 bytes"):
        recover_signer(
            v, Domain(chain_id=chain.w3.eth.chain_id, verifying_contract=chain.staking.address), sig[:64]
        )
