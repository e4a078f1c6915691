"""The policy's identity in the service (SPEC section 11): `GET /v1/policy` answers the active
policy and its hash, every accepted verdict records that hash as `decision.policy_hash`, and a
start-up with another policy is logged and webhooked once."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import select

from staking.db import schema as t
from staking.intake.policy_change import announce_policy
from staking.policy import Policy, load_policy
from staking.policy.identity import policy_hash
from tests.support.offchain import OffChainApi

pytestmark = pytest.mark.unit


def test_the_active_policy_and_its_hash_are_served_and_recorded_with_each_decision(api: OffChainApi) -> None:
    doc = api.client.get("/v1/policy").json()
    assert doc["hash"] == policy_hash(load_policy()) == policy_hash(Policy.model_validate(doc["policy"]))
    assert doc["policy"]["levels"]["penalty"]["slash_bps"] == 500
    _, _, r = api.submit(0)
    assert r.status_code == 202 and r.json()["decision"]["policy_hash"] == doc["hash"]
    again = api.client.get(f"/v1/verdicts/{r.json()['id']}").json()
    assert again["decision"]["policy_hash"] == doc["hash"]


def test_a_policy_change_at_start_up_is_logged_and_webhooked_once(
    api: OffChainApi, caplog: pytest.LogCaptureFixture
) -> None:
    sent: list[tuple[str, dict[str, object]]] = []

    def outbox(conn: object, kind: str, payload: dict[str, object]) -> None:
        sent.append((kind, payload))

    active = load_policy()
    other = Policy.model_validate({**active.model_dump(mode="json"), "window_days": 60})
    with caplog.at_level(logging.INFO, logger="staking.intake"):
        assert announce_policy(api.engine, active, outbox, "default") == "recorded"
        assert announce_policy(api.engine, active, outbox, "default") == "unchanged"
        assert sent == []  # the first hash a database sees is no change
        assert announce_policy(api.engine, other, outbox, "other.toml") == "changed"
    assert sent == [
        (
            "policy_changed",
            {"previous_hash": policy_hash(active), "policy_hash": policy_hash(other), "source": "other.toml"},
        )
    ]
    changed = [r for r in caplog.records if r.getMessage() == "policy changed"]
    assert len(changed) == 1 and changed[0].levelno == logging.WARNING
    with api.engine.connect() as conn:
        stored = conn.execute(select(t.meta.c.value).where(t.meta.c.key == "policy_hash")).scalar()
    assert stored == policy_hash(other)
    assert json.dumps(sent)  # the webhook's payload is plain JSON
