"""Verdicts as a detector builds and signs them, without a chain: the part of `Chain.signed()`
that needs no node, shared by the tests on the devnet and by the in-process (unit) intake."""

from __future__ import annotations

import os
from typing import Any

from eth_utils import keccak, to_checksum_address

from staking.devnet.accounts import DETECTOR, devnet_account
from staking.domain.vocabulary import Address, EventType, Severity
from staking.verdict import Domain, Verdict, sign_verdict


def detector_key() -> bytes:
    """The provisioned devnet detector's private key (devnet account #2; the key is public)."""
    return bytes(devnet_account(DETECTOR).key)


def new_verdict(
    provider: str,
    detected_at: int,
    event_type: EventType = EventType.SECURITY_BREACH,
    severity: Severity = Severity.CRITICAL,
    verdict_id: bytes | None = None,
) -> Verdict:
    """A fresh verdict about `provider` (random id and evidence unless given)."""
    return Verdict(
        id=verdict_id or os.urandom(32),
        provider=to_checksum_address(provider),
        event_type=event_type,
        severity=severity,
        detected_at=detected_at,
        evidence_hash=keccak(os.urandom(16)),
    )


def signature(verdict: Verdict, chain_id: int, contract: str, key: bytes | None = None) -> bytes:
    """The EIP-712 signature of `verdict` for domain (`chain_id`, `contract`), by the devnet
    detector unless `key` is given."""
    domain = Domain(chain_id=chain_id, verifying_contract=Address(to_checksum_address(contract)))
    return sign_verdict(verdict, domain, key if key is not None else detector_key())


class SignsVerdicts:
    """`verdict`, `sign` and `signed` for a test fixture that knows its clock and its EIP-712
    domain (`Chain` asks the node for both; the in-process unit app has fixed ones)."""

    def now(self) -> int:
        raise NotImplementedError

    def verdict_domain(self) -> tuple[int, str]:
        """(chain id, SwarmStaking's address) that verdicts are signed for."""
        raise NotImplementedError

    def verdict(
        self,
        provider: str,
        event_type: EventType = EventType.SECURITY_BREACH,
        severity: Severity = Severity.CRITICAL,
        detected_at: int | None = None,
        verdict_id: bytes | None = None,
    ) -> Verdict:
        detected = self.now() if detected_at is None else detected_at
        return new_verdict(provider, detected, event_type, severity, verdict_id)

    def sign(
        self,
        verdict: Verdict,
        key: bytes | None = None,
        chain_id: int | None = None,
        contract: str | None = None,
    ) -> bytes:
        """Signature by the devnet detector, or by `key`/on another domain for negative tests."""
        own_chain, own_contract = self.verdict_domain()
        return signature(
            verdict, chain_id if chain_id is not None else own_chain, contract or own_contract, key
        )

    def signed(self, provider: str, **kw: Any) -> tuple[Verdict, bytes]:
        v = self.verdict(provider, **kw)
        return v, self.sign(v)
