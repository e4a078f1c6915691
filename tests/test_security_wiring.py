"""The production wiring (`app_from_settings`) applies the security settings: the admin token,
the per-detector rate limit, body limits and CORS origins come from SWARM_* settings, and an API
without an admin token off the devnet says so at start-up. Against the session's Anvil."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import staking.domain.vocabulary
from staking.api.app import app_from_settings
from staking.config import Settings
from staking.db.engine import upgrade
from staking.domain.vocabulary import EventType, Severity
from staking.verdict import to_wire
from tests.chain_helpers import Chain

TOKEN = "wired-admin-token-0123456789"
ORIGIN = "https://dashboard.example.org"
WARNING = "SWARM_ADMIN_TOKEN is not set"


def settings(chain: Chain, tmp_path: Path, **values: object) -> Settings:
    path = tmp_path / "deployment.json"
    chain.deployment.save(path)
    url = f"sqlite:///{tmp_path}/swarm.db"
    if not (tmp_path / "swarm.db").exists():
        upgrade(url)
    return Settings(deployment=path, database_url=url, _env_file=None, **values)  # type: ignore[call-arg]


def test_the_settings_reach_the_api(chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    s = settings(
        chain,
        tmp_path,
        admin_token=TOKEN,
        intake_rate_per_s=0.001,
        intake_burst=2,
        cors_origins=f"{ORIGIN}/",
        max_verdict_body_bytes=4096,
    )
    with caplog.at_level(logging.WARNING), TestClient(app_from_settings(s)) as client:
        assert client.get("/metrics").status_code == 401
        assert (
            client.get("/v1/investigations", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        )
        codes = []
        for _ in range(3):
            v, sig = chain.signed(
                chain.providers[0], event_type=EventType.POLICY_VIOLATION, severity=Severity.LOW
            )
            codes.append(client.post("/v1/verdicts", json=to_wire(v, sig)).status_code)
        assert codes == [202, 202, 429]
        assert client.post("/v1/verdicts", content=b" " * 5000).status_code == 413
        assert (
            client.get("/healthz", headers={"Origin": ORIGIN}).headers["access-control-allow-origin"]
            == ORIGIN
        )
    assert WARNING not in caplog.text


def test_an_open_admin_surface_off_the_devnet_is_warned_about(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    with caplog.at_level(logging.WARNING):
        app_from_settings(settings(chain, tmp_path))  # the devnet: open on purpose, no warning
        assert WARNING not in caplog.text
        monkeypatch.setattr(staking.domain.vocabulary, "DEVNET_CHAIN_ID", 1)  # chain 31337 is "production"
        app_from_settings(settings(chain, tmp_path))
        assert WARNING in caplog.text
        caplog.clear()
        app_from_settings(settings(chain, tmp_path, admin_token=TOKEN))
        assert WARNING not in caplog.text
