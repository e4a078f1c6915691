"""EIP-712 verdicts of the risk framework: build, sign, recover (pure; no network).

The type and domain are fixed by SPEC section 3 and must match `SwarmStaking.VERDICT_TYPEHASH`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import to_checksum_address

from staking.domain.vocabulary import Address, EventType, Severity

DOMAIN_NAME = "SwarmRiskFramework"
DOMAIN_VERSION = "1"

VERDICT_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "Verdict": [
        {"name": "id", "type": "bytes32"},
        {"name": "provider", "type": "address"},
        {"name": "eventType", "type": "uint8"},
        {"name": "severity", "type": "uint8"},
        {"name": "detectedAt", "type": "uint64"},
        {"name": "evidenceHash", "type": "bytes32"},
    ],
}


@dataclass(frozen=True)
class Verdict:
    id: bytes  # 32 bytes; also the on-chain slash id
    provider: Address
    event_type: EventType
    severity: Severity
    detected_at: int  # unix seconds
    evidence_hash: bytes  # 32 bytes

    def __post_init__(self) -> None:
        # Coerce plain ints to the enums, rejecting out-of-range codes (ValueError).
        object.__setattr__(self, "event_type", EventType(self.event_type))
        object.__setattr__(self, "severity", Severity(self.severity))
        if len(self.id) != 32 or len(self.evidence_hash) != 32:
            raise ValueError("verdict id and evidence hash must be 32 bytes")
        if self.detected_at < 0 or self.detected_at >= 2**64:
            raise ValueError("detected_at out of uint64 range")

    def as_tuple(self) -> tuple[bytes, str, int, int, int, bytes]:
        """The ABI tuple `SwarmStaking.Verdict` expects."""
        return (
            self.id,
            to_checksum_address(self.provider),
            int(self.event_type),
            int(self.severity),
            self.detected_at,
            self.evidence_hash,
        )


@dataclass(frozen=True)
class Domain:
    chain_id: int
    verifying_contract: Address


def typed_data(verdict: Verdict, domain: Domain) -> dict[str, Any]:
    """The full EIP-712 message (what wallets and `eth_signTypedData_v4` take)."""
    return {
        "types": VERDICT_TYPES,
        "primaryType": "Verdict",
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": domain.chain_id,
            "verifyingContract": to_checksum_address(domain.verifying_contract),
        },
        "message": {
            "id": verdict.id,
            "provider": to_checksum_address(verdict.provider),
            "eventType": int(verdict.event_type),
            "severity": int(verdict.severity),
            "detectedAt": verdict.detected_at,
            "evidenceHash": verdict.evidence_hash,
        },
    }


def sign_verdict(verdict: Verdict, domain: Domain, private_key: bytes | str) -> bytes:
    """65-byte signature (r, s, v) of `verdict` under `domain`."""
    signable = encode_typed_data(full_message=typed_data(verdict, domain))
    return bytes(Account.sign_message(signable, private_key=private_key).signature)


def recover_signer(verdict: Verdict, domain: Domain, signature: bytes) -> Address:
    """Address that produced `signature`; raises ValueError on a malformed signature."""
    if len(signature) != 65:
        raise ValueError("signature must be 65 bytes")
    signable = encode_typed_data(full_message=typed_data(verdict, domain))
    return Address(Account.recover_message(signable, signature=signature))


def to_wire(verdict: Verdict, signature: bytes, evidence_uri: str | None = None) -> dict[str, Any]:
    """The JSON body of `POST /v1/verdicts` (SPEC section 3) for a signed verdict."""
    body: dict[str, Any] = {
        "id": "0x" + verdict.id.hex(),
        "provider": to_checksum_address(verdict.provider),
        "event_type": verdict.event_type.wire,
        "severity": verdict.severity.wire,
        "detected_at": verdict.detected_at,
        "evidence_hash": "0x" + verdict.evidence_hash.hex(),
        "signature": "0x" + signature.hex(),
    }
    if evidence_uri is not None:
        body["evidence_uri"] = evidence_uri
    return body
