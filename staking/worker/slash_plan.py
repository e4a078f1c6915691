"""How a decided slash goes on chain, given the chain's bounds and the verdict's signers. Pure: no
SQL, no web3 (the executor reads the bounds and the signers and sends what this decides).

- The decided bps is clamped to the chain's bound for the verdict's severity (`maxSlashBpsFor`,
  never above `maxSlashBps`); the clamp is said in the note.
- Above `quorumBps` (with a quorum of more than one) the proposal needs `quorum` distinct
  detectors' signatures of the verdict: it waits for them (`WAIT`), then goes as
  `proposeSlashQuorum` with the signatures ordered by signer address ascending. After the policy's
  timeout without the quorum it falls back to the largest slash one signature may carry, and says so.
- Waiting actions carry a note starting with one of `WAITING_NOTES`, so the metrics and the read
  model can count what waits on a cap or a quorum.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from staking.domain.vocabulary import Severity

PROPOSE = "propose"  # proposeSlash (or jailAndProposeSlash) with the verdict's own signature
QUORUM = "quorum"  # proposeSlashQuorum with `signers`
WAIT = "wait"  # stays pending: the quorum may still come
SKIP = "skip"  # no slash goes out (the note says why)

MAX_SIGNERS = 16  # the contract's MAX_QUORUM: the most signatures one proposal may carry

WAITING_FOR_QUORUM = "waiting for the quorum"
WAITING_FOR_JAIL_CAP = "waiting for the jail cap"
WAITING_FOR_SLASH_CAP = "waiting for the slash cap"
WAITING_NOTES = (WAITING_FOR_QUORUM, WAITING_FOR_JAIL_CAP, WAITING_FOR_SLASH_CAP)
HELD_NEAR_CAP = "held: incident"


class Bounds(Protocol):
    """What a plan needs of `staking.chain.contracts.Caps`."""

    @property
    def quorum(self) -> int: ...
    @property
    def quorum_bps(self) -> int: ...

    def max_for(self, severity: Severity) -> int: ...


@dataclass(frozen=True)
class Signer:
    address: str  # checksummed
    signature: str  # 0x hex


@dataclass(frozen=True)
class SlashPlan:
    how: str  # PROPOSE, QUORUM, WAIT or SKIP
    bps: int
    signers: tuple[Signer, ...] = ()
    note: str | None = None

    @property
    def submittable(self) -> bool:
        return self.how in (PROPOSE, QUORUM)


def ascending(signers: Iterable[Signer]) -> list[Signer]:
    """Distinct signers ordered as the contract checks them: by address as a 20-byte integer,
    ascending (the first signature of an address is kept)."""
    by_int: dict[int, Signer] = {}
    for s in signers:
        by_int.setdefault(int(s.address, 16), s)
    return [by_int[k] for k in sorted(by_int)]


def plan_slash(
    decided_bps: int,
    severity: Severity,
    bounds: Bounds,
    first: Signer,
    co_signers: Sequence[Signer],
    waited_s: float,
    timeout_s: int,
) -> SlashPlan:
    """The proposal for a verdict of `severity` whose decision is `decided_bps`, signed by `first`
    (the verdict's own signature) and `co_signers` (other detectors' signatures of the same
    verdict, any order, revoked detectors left out), received `waited_s` seconds ago."""
    bound = bounds.max_for(severity)
    bps = min(decided_bps, bound)
    if bps <= 0:
        return SlashPlan(SKIP, 0, note=f"no slash: the chain allows none for a {severity.wire} verdict")
    clamp = (
        f"clamped from {decided_bps} to {bps} bps, the chain's bound for a {severity.wire} verdict"
        if bps < decided_bps
        else None
    )
    if bounds.quorum <= 1 or bps <= bounds.quorum_bps:
        return SlashPlan(PROPOSE, bps, (first,), clamp)
    signers = ascending([first, *co_signers])
    if len(signers) >= bounds.quorum:
        chosen = tuple(signers[:MAX_SIGNERS])
        said = f"{len(chosen)} detectors signed (quorum {bounds.quorum})"
        return SlashPlan(QUORUM, bps, chosen, f"{clamp}; {said}" if clamp else said)
    if waited_s < timeout_s:
        note = (
            f"{WAITING_FOR_QUORUM}: {len(signers)} of {bounds.quorum} detectors signed; {bps} bps is "
            f"above the {bounds.quorum_bps} bps one signature may carry"
        )
        return SlashPlan(WAIT, bps, note=note)
    fallback = min(decided_bps, bounds.quorum_bps, bound)
    if fallback <= 0:
        return SlashPlan(
            SKIP, 0, note=f"quorum not met in {timeout_s} s: no slash, one signature may carry none"
        )
    note = f"quorum not met in {timeout_s} s: proposed {fallback} bps, the most one signature may carry"
    return SlashPlan(PROPOSE, fallback, (first,), note)
