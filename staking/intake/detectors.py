"""Who may sign for the risk framework, and whether a signature proves it.

`Detectors.authenticate` is shared by every intake of detector-signed documents (verdicts,
performance batches): the EIP-712 signer must be in the canonical form the contract accepts, not be
revoked by governance (`detector_revocations`, written by `swarm-staking detector revoke` before
the on-chain revocation is even sent), hold `DETECTOR_ROLE` (the indexed `roles` table first, the
chain's `hasRole` when the index has not seen the grant yet) and be within its rate limit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Engine, select

from staking.chain.contracts import role_id
from staking.db import schema as t
from staking.domain.clock import iso_ms
from staking.intake.errors import DetectorCheckUnavailable
from staking.intake.results import Rejected, Rejection, Unavailability, Unavailable
from staking.verdict import Domain

if TYPE_CHECKING:
    from staking.intake.ratelimit import TokenBuckets

log = logging.getLogger("staking.intake")

DETECTOR_ROLE_HEX = "0x" + bytes(role_id("DETECTOR_ROLE")).hex()  # as the indexer stores it
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

DetectorCheck = Callable[[str], bool]


def signature_problem(signature: bytes) -> str | None:
    """Why SwarmStaking (OpenZeppelin `ECDSA.tryRecover`) would refuse this signature, or None.

    eth-account also accepts v = 0/1 and high-s signatures; the contract does not, and a verdict
    it cannot use must not be accepted here only to fail later on chain."""
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v not in (27, 28):
        return f"v must be 27 or 28 (got {v})"
    if not 0 < r < SECP256K1_N:
        return "r is out of range"
    if not 0 < s <= SECP256K1_N // 2:
        return "s must be in the lower half of the curve order (EIP-2): the contract refuses malleable ones"
    return None


@dataclass(frozen=True)
class Detectors:
    """Accounts holding `DETECTOR_ROLE` on SwarmStaking, under the signing `domain`.

    The indexed `roles` table answers first; an account it does not list is asked of the chain
    through `check` (the index may lag a fresh grant; the chain is the authority). `limiter`: one
    rate-limit bucket per detector, across every document it signs."""

    engine: Engine
    domain: Domain
    check: DetectorCheck | None
    limiter: TokenBuckets | None = None

    def authenticate(
        self, signature: bytes, recover: Callable[[bytes], str], what: str
    ) -> str | Rejected | Unavailable:
        """The signer `recover(signature)` gives, if it holds DETECTOR_ROLE; else why not: Rejected
        for a signature that does not recover (or that the contract would refuse) or a signer
        without the role, Unavailable when neither the index nor the chain can answer. Raises
        `RateLimited` when the detector has used up its rate limit (nothing is stored then).
        `what` names the signed document in the explanations ("verdict", "performance batch")."""
        domain_hint = (
            f"{what}s must be EIP-712 signed for domain SwarmRiskFramework/1, chainId "
            f"{self.domain.chain_id}, verifyingContract {self.domain.verifying_contract}"
        )
        why = signature_problem(signature)
        signer: str | None = None
        if why is None:
            try:
                signer = recover(signature)
            except Exception as exc:  # eth-keys raises BadSignature, ValueError, ...
                why = f"signature does not recover ({exc})"
        if signer is None:
            return Rejected(Rejection.INVALID_SIGNATURE, f"{why}; {domain_hint}")
        try:
            standing = self.standing(signer)
        except DetectorCheckUnavailable as exc:
            return Unavailable(Unavailability.DETECTOR_CHECK, str(exc))
        if isinstance(standing, Revocation):
            return Rejected(Rejection.NOT_A_DETECTOR, standing.explain(), signer=signer)
        if not standing:
            return Rejected(
                Rejection.NOT_A_DETECTOR,
                f"the signature recovers to {signer}, which does not hold DETECTOR_ROLE "
                f"(a signature for another domain recovers to an unrelated address; {domain_hint})",
                signer=signer,
            )
        if self.limiter is not None:
            # After the role check, so only detectors get buckets (their number is bounded).
            self.limiter.take(signer)
        return signer

    def is_detector(self, signer: str) -> bool:
        """Whether `signer` holds DETECTOR_ROLE and is not revoked by governance;
        DetectorCheckUnavailable if the chain, asked about an account the index does not list,
        does not answer."""
        return self.standing(signer) is True

    def standing(self, signer: str) -> bool | Revocation:
        """The revocation of `signer` if governance revoked it (`detector_revocations`: refused
        from that instant, whatever the roles index or the chain still say), else whether it holds
        DETECTOR_ROLE (the index first, then the chain)."""
        r = t.detector_revocations.c
        with self.engine.connect() as conn:
            revoked = conn.execute(
                select(r.account, r.revoked_ms, r.revoked_by, r.note).where(r.account == signer)
            ).first()
            if revoked is not None:
                return Revocation(revoked.account, revoked.revoked_ms, revoked.revoked_by, revoked.note)
            query = select(t.roles.c.account).where(
                t.roles.c.role == DETECTOR_ROLE_HEX, t.roles.c.account == signer
            )
            if conn.execute(query).first() is not None:
                return True
        if self.check is None:
            return False
        try:
            return bool(self.check(signer))
        except Exception as exc:
            log.warning("on-chain DETECTOR_ROLE check failed", extra={"signer": signer, "error": str(exc)})
            raise DetectorCheckUnavailable(
                f"{signer} is not among the indexed detectors and the chain could not be asked "
                f"({type(exc).__name__}); retry shortly"
            ) from exc


@dataclass(frozen=True)
class Revocation:
    """A detector governance stopped trusting (`swarm-staking detector revoke`)."""

    account: str
    revoked_ms: int
    revoked_by: str | None
    note: str | None

    def explain(self) -> str:
        by = f" ({self.revoked_by})" if self.revoked_by else ""
        why = f": {self.note}" if self.note else ""
        return (
            f"the signature recovers to {self.account}, revoked by governance{by} at "
            f"{iso_ms(self.revoked_ms)}{why}; its signatures are no longer accepted"
        )
