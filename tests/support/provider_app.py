"""The provider API as `app_from_settings` wires it, over the session's Anvil and a database."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from staking.api.app import create_app
from staking.api.health import ChainProbe, rpc_head
from staking.intake.service import IntakeService
from staking.policy import load_policy
from tests.support.chain import Chain


def make_app(api_engine: Engine, devnet: Chain, **kw: Any) -> TestClient:
    """The app as `app_from_settings` wires it (intake, chain probe), clocked by the chain."""
    intake = IntakeService(
        api_engine,
        devnet.staking.domain(),
        lambda account: devnet.staking.has_role("DETECTOR_ROLE", account),
        load_policy(),
        max_age=devnet.staking.max_verdict_age(),
        clock=lambda: float(devnet.now()),
    )
    kw.setdefault("chain", ChainProbe(rpc_head(devnet.deployment.rpc_url)))
    kw.setdefault("clock", lambda: float(devnet.now()))
    return TestClient(create_app(api_engine, intake, **kw), raise_server_exceptions=False)
