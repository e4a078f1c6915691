"""A rogue detector on the devnet, as `detector revoke` finds it: verdicts taken in by the real
intake and executed by the real executor (jails, slash proposals, recoveries on chain), next to
an honest detector's.

The scene, on providers 0-4 (`Rogue.build`):
- P0, P1: jailed and slashed on the rogue's word alone (lift, veto); P1 also has a second rogue
  verdict whose actions were never sent (cancel);
- P2: jailed by the rogue, then by the honest detector too (keep the jail; veto only the rogue's
  slash);
- P3: the rogue's verdict co-signed by the honest detector (not the rogue's alone: left as is);
- P4: untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine, select

from indexer.runner import Indexer
from staking.db import schema as t
from staking.devnet.accounts import DETECTOR, devnet_account
from staking.domain.vocabulary import EventType, Severity
from staking.intake.results import Accepted, CoSigned
from staking.intake.service import IntakeService
from staking.policy import load_policy
from staking.txmanager.manager import TxManager
from staking.txmanager.states import TxConfig
from staking.verdict import Verdict, to_wire
from staking.worker.executor import ActionExecutor
from tests.support.chain import Chain

ROGUE_INDEX = 15  # unlocked by anvil; granted DETECTOR_ROLE by the scene


def vid(v: Verdict) -> str:
    return "0x" + v.id.hex()


@dataclass
class Rogue:
    chain: Chain
    engine: Engine
    rogue: LocalAccount = field(default_factory=lambda: devnet_account(ROGUE_INDEX))
    honest: LocalAccount = field(default_factory=lambda: devnet_account(DETECTOR))
    verdicts: dict[str, Verdict] = field(default_factory=dict)  # "P0" ... by name
    granter: str | None = None  # who grants the rogue its role (default: the governance key)

    def __post_init__(self) -> None:
        c = self.chain
        c.tx(c.staking.grant_role("DETECTOR_ROLE", self.rogue.address), self.granter or c.governance)
        self.index()
        s = c.staking
        self.intake = IntakeService(
            self.engine,
            s.domain(),
            lambda a: s.has_role("DETECTOR_ROLE", a),
            load_policy(),
            max_age=s.max_verdict_age(),
            clock=lambda: float(c.now()),
        )
        self.txm = TxManager(self.engine, c.w3, devnet_account(1), TxConfig(), error_name=s.error_name)
        self.txm.reconcile()
        self.executor = ActionExecutor(self.engine, s, self.txm)

    @property
    def providers(self) -> list[str]:
        return self.chain.providers

    def index(self) -> None:
        Indexer(self.engine, self.chain.w3, self.chain.deployment).run(exit_at_head=True)

    def submit(
        self, name: str, provider: int, signer: LocalAccount, verdict: Verdict | None = None
    ) -> Verdict:
        v = verdict or self.chain.verdict(
            self.providers[provider], EventType.SECURITY_BREACH, Severity.CRITICAL, self.chain.now() - 1
        )
        outcome = self.intake.submit(to_wire(v, self.chain.sign(v, key=signer.key)))
        assert isinstance(outcome, Accepted | CoSigned), outcome
        self.verdicts.setdefault(name, v)
        return v

    def execute(self) -> None:
        """Step the executor until every jail and slash proposal is mined."""
        for _ in range(40):
            self.executor.step()
            self.txm.tick()
            with self.engine.connect() as conn:
                open_ = conn.execute(
                    select(t.actions.c.id).where(
                        t.actions.c.state.in_(["pending", "submitted"]),
                        # A second recovery for a provider waits 15 s, then is skipped: not waited for.
                        (t.actions.c.kind != "begin_recovery") | (t.actions.c.state != "pending"),
                    )
                ).first()
            if open_ is None:
                return
        raise AssertionError("the executor did not settle the scene's actions")

    def build(self, index_after: bool = True) -> Rogue:
        self.submit("P0", 0, self.rogue)
        self.submit("P1", 1, self.rogue)
        self.submit("P2", 2, self.rogue)
        p3 = self.submit("P3", 3, self.rogue)
        self.submit("P3", 3, self.honest, verdict=p3)  # co-signed
        self.execute()
        self.submit("P2 honest", 2, self.honest)
        self.execute()
        if index_after:
            self.index()
        self.submit("P1 unsent", 1, self.rogue)  # decided, never sent
        return self

    def action_states(self, name: str) -> dict[str, tuple[str, str | None]]:
        a = t.actions.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(a.kind, a.state, a.note).where(a.verdict_id == vid(self.verdicts[name]))
            )
            return {r.kind: (r.state, r.note) for r in rows}

    def status(self, name: str) -> str:
        v = t.verdicts.c
        with self.engine.connect() as conn:
            return str(conn.execute(select(v.status).where(v.id == vid(self.verdicts[name]))).scalar_one())

    def slash_state(self, name: str) -> int:
        return int(self.chain.staking.slash_state(self.verdicts[name].id))

    def slash_amount(self, name: str) -> int:
        return int(self.chain.staking.slash(self.verdicts[name].id).amount)
