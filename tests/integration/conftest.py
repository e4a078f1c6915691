"""Fixtures of the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from indexer.runner import Indexer
from staking.api.app import create_app
from staking.db.engine import make_engine
from staking.intake.service import IntakeService
from staking.policy import load_policy
from tests.support.chain import Chain
from tests.support.intake import Api


@pytest.fixture
def api(chain: Chain, db_url: str) -> Iterator[Api]:
    engine = make_engine(db_url)
    # Index the devnet first, so DETECTOR_ROLE of the provisioned detector is in `roles`.
    Indexer(engine, chain.w3, chain.deployment).run(exit_at_head=True)
    checks: list[str] = []

    def on_chain(account: str) -> bool:
        checks.append(account)
        return chain.staking.has_role("DETECTOR_ROLE", account)

    intake = IntakeService(
        engine,
        chain.staking.domain(),
        on_chain,
        load_policy(),
        max_age=chain.staking.max_verdict_age(),
        clock=lambda: float(chain.now()),
    )
    with TestClient(create_app(engine, intake), raise_server_exceptions=False) as client:
        yield Api(chain, engine, intake, client, checks)
    engine.dispose()
