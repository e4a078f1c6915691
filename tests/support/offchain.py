"""The intake app in-process, with no chain and no socket, for the unit tests: a migrated SQLite
file as the indexer leaves it after the devnet's deployment (the detector's DETECTOR_ROLE in
`roles`, the epoch clock in `meta`), a fixed EIP-712 domain and clock, the on-chain DETECTOR_ROLE
fallback a plain function, and the real `create_app(engine, intake)` under FastAPI's TestClient.

`OffChainApi` offers what the devnet tests take from `Chain` (providers, detector, now, verdict,
sign, signed) with the same meaning, so a test moved here keeps its assertions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from eth_utils import to_checksum_address
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine

from indexer.store import ChainIdentity, Store
from staking.api.app import create_app
from staking.db.engine import make_engine
from staking.deploy import StakingParams
from staking.devnet.accounts import DETECTOR, GOVERNANCE, devnet_account, provider_accounts
from staking.domain.clock import EpochClock
from staking.domain.events import DecodedEvent
from staking.domain.vocabulary import Address
from staking.intake.detectors import DETECTOR_ROLE_HEX
from staking.intake.service import IntakeService
from staking.policy import load_policy
from staking.verdict import Domain, Verdict
from tests.support.intake import INTAKE_TABLES, rejected, row_counts, wire
from tests.support.performance import PostsBatches
from tests.support.signing import SignsVerdicts

CHAIN_ID = 31337  # Anvil's
STAKING = Address(to_checksum_address("0x" + "5a" * 20))  # where SwarmStaking "is deployed"
OTHER_CONTRACT = Address(to_checksum_address("0x" + "7b" * 20))  # another contract (the token's place)
DOMAIN = Domain(chain_id=CHAIN_ID, verifying_contract=STAKING)

_DEVNET = StakingParams.devnet()  # the parameters the devnet is provisioned with
MAX_VERDICT_AGE = _DEVNET.max_verdict_age
EPOCH_LENGTH = _DEVNET.epoch_length

NOW = 1_750_000_000  # the fixed clock: unix seconds
DEPLOYED_BLOCK = 1
EPOCH_GENESIS = NOW - 3 * EPOCH_LENGTH - EPOCH_LENGTH // 2  # NOW is in the middle of epoch 3
DETECTOR_ADDRESS = devnet_account(DETECTOR).address


def index_deployment(engine: Engine) -> None:
    """Leave in `engine`'s database what the indexer stores after indexing the devnet's
    deployment, through the indexer's own `Store`: the chain identity with the epoch clock, and
    the `RoleGranted(DETECTOR_ROLE, detector)` event (as the decoder yields it) folded into
    `roles`; the checkpoint is the deployment block, at NOW."""
    store = Store(engine)
    store.ensure_identity(
        ChainIdentity(
            chain_id=CHAIN_ID,
            genesis_hash="0x" + "00" * 32,
            staking_address=STAKING,
            deployed_block=DEPLOYED_BLOCK,
            epoch_genesis=EPOCH_GENESIS,
            epoch_length=EPOCH_LENGTH,
        )
    )
    block_hash = "0x" + f"{DEPLOYED_BLOCK:064x}"
    grant = DecodedEvent(
        "RoleGranted",
        DEPLOYED_BLOCK,
        block_hash,
        0,
        "0x" + "01" * 32,
        NOW,
        {
            "role": DETECTOR_ROLE_HEX,
            "account": DETECTOR_ADDRESS,
            "sender": devnet_account(GOVERNANCE).address,
        },
    )
    store.apply_batch([grant], {DEPLOYED_BLOCK: NOW}, (DEPLOYED_BLOCK, block_hash, NOW))


@dataclass
class OffChainApi(SignsVerdicts):
    """The app over the indexed database; `on_chain_checks` lists every account the intake asked
    the (stand-in) chain about. The chain knows DETECTOR_ROLE only of the devnet detector."""

    engine: Engine
    intake: IntakeService
    client: TestClient
    on_chain_checks: list[str] = field(default_factory=list)
    providers: list[str] = field(default_factory=lambda: [a.address for a in provider_accounts()])
    detector: str = DETECTOR_ADDRESS
    domain: Domain = DOMAIN

    def now(self) -> int:
        return NOW

    def epoch(self) -> int:
        return EpochClock(EPOCH_GENESIS, EPOCH_LENGTH).epoch_at(NOW)

    # ---- verdicts, as `Chain` builds and signs them
    def verdict_domain(self) -> tuple[int, str]:
        return self.domain.chain_id, self.domain.verifying_contract

    def submit(self, provider_index: int = 0, **kw: Any) -> tuple[Verdict, dict[str, Any], Response]:
        v, sig = self.signed(self.providers[provider_index], **kw)
        body = wire(v, sig)
        return v, body, self.client.post("/v1/verdicts", json=body)

    # ---- what a rejection must leave untouched
    def counts(self) -> dict[str, int]:
        return row_counts(self.engine, INTAKE_TABLES)

    def rejects(self, status: int, send: Callable[[], Response]) -> dict[str, Any]:
        """`send()` answers `status` as problem+json and leaves the intake tables untouched."""
        return rejected(status, send, self.counts)

    def rejects_body(self, status: int, body: Any) -> dict[str, Any]:
        return self.rejects(status, lambda: self.client.post("/v1/verdicts", json=body))


@dataclass
class OffChainPerformanceApi(PostsBatches, OffChainApi):
    """The same app driven with performance batches: what a rejection must leave untouched are
    the performance tables."""

    def batch_providers(self) -> list[str]:
        return list(self.providers)


@contextmanager
def offchain_api(database_url: str) -> Iterator[OffChainApi]:
    """The app over `database_url` (migrated, and indexed by `index_deployment`)."""
    engine = make_engine(database_url)
    checks: list[str] = []

    def on_chain(account: str) -> bool:  # the edge that would ask the node: `hasRole` on the devnet
        checks.append(account)
        return account == DETECTOR_ADDRESS

    intake = IntakeService(
        engine, DOMAIN, on_chain, load_policy(), max_age=MAX_VERDICT_AGE, clock=lambda: float(NOW)
    )
    try:
        with TestClient(create_app(engine, intake), raise_server_exceptions=False) as client:
            yield OffChainApi(engine, intake, client, checks)
    finally:
        engine.dispose()
