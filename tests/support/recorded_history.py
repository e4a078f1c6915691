"""Verdict histories recorded by the real intake (signed verdicts, its history query, its stored
decisions) in a SQLite file of the test's own, for the policy simulator's tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, update

from indexer.projection import ProviderRow, row_dict
from staking.db import schema as t
from staking.db.engine import make_engine, upgrade
from staking.devnet.accounts import DETECTOR, devnet_account
from staking.domain.vocabulary import EventType, Severity, VerdictStatus
from staking.intake.results import Accepted
from staking.intake.service import IntakeService
from staking.policy import Policy
from staking.verdict import Verdict, sign_verdict, to_wire
from tests.support.offchain import DETECTOR_ADDRESS, DOMAIN, MAX_VERDICT_AGE, index_deployment

PROVIDERS = [devnet_account(i).address for i in (3, 4, 5)]
T0 = 1_800_000_000


@dataclass(frozen=True)
class Step:
    provider: str
    event_type: EventType
    severity: Severity
    gap: int  # seconds since the previous verdict arrived
    age: int = 0  # how long before its arrival it was detected
    reject_after_next: bool = False  # rejected (as a revocation or dismissal does) once the next one arrived


STAKE = 10_000 * 10**18  # each provider's bonded stake (a multiple of 10,000: slashes in bps are exact)


def migrated_template(path: Path) -> Path:
    """A migrated SQLite file with the deployment indexed and PROVIDERS registered with STAKE."""
    upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    index_deployment(engine)
    rows = [
        row_dict(
            ProviderRow(
                address=a,
                provider_class=0,
                gpus=1,
                metadata_uri="",
                registered_block=1,
                updated_block=1,
                active=STAKE,
            )
        )
        for a in PROVIDERS
    ]
    with engine.begin() as conn:
        conn.execute(t.providers.insert(), rows)
    engine.dispose()
    return path


def record(template: Path, db: Path, steps: Iterable[Step], policy: Policy) -> tuple[Engine, int]:
    """A copy of `template` at `db` with `steps` submitted to the intake in order: (its engine,
    the clock after the last one, unix seconds)."""
    shutil.copy(template, db)
    engine = make_engine(f"sqlite:///{db}")
    clock = [float(T0)]
    intake = IntakeService(
        engine,
        DOMAIN,
        lambda a: a == DETECTOR_ADDRESS,
        policy,
        max_age=MAX_VERDICT_AGE,
        clock=lambda: clock[0],
    )
    key = devnet_account(DETECTOR).key
    to_reject: list[str] = []
    for i, s in enumerate(steps):
        clock[0] += s.gap
        v = Verdict(
            bytes([i % 255 + 1, i // 255]) + bytes(30),
            s.provider,
            s.event_type,
            s.severity,
            int(clock[0]) - s.age,
            bytes(32),
        )
        outcome = intake.submit(to_wire(v, sign_verdict(v, DOMAIN, key)))
        assert isinstance(outcome, Accepted), outcome
        with engine.begin() as conn:
            for vid in to_reject:
                rejected = {"status": VerdictStatus.REJECTED.value, "updated_ms": int(clock[0] * 1000) + 1}
                conn.execute(update(t.verdicts).where(t.verdicts.c.id == vid).values(**rejected))
        to_reject = ["0x" + v.id.hex()] if s.reject_after_next else []
    return engine, int(clock[0])
