"""Webhook deliveries through the persisted outbox, on each database: retried with the same signed
body until the receiver accepts, given up after the attempt limit, delivered after a restart, and a
receiver that times out holds back no other."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from staking.db import schema as t
from staking.db.engine import make_engine
from staking.notify.webhooks import WebhookNotifier
from tests.support.webhooks import Receiver

pytestmark = pytest.mark.integration


SECRET = b"shared-secret-for-tests"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail_first=2)
    yield r
    r.server.shutdown()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    e = make_engine(db_url)
    yield e
    e.dispose()


def wait_for(cond: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def outbox(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return [
            dict(r) for r in conn.execute(select(t.webhook_outbox).order_by(t.webhook_outbox.c.id)).mappings()
        ]


def test_a_failing_receiver_gets_the_same_signed_delivery_until_it_accepts(
    receiver: Receiver, engine: Engine
) -> None:
    notifier = WebhookNotifier(engine, [receiver.url], SECRET, backoff=0.05).start()
    try:
        notifier("isolation", {"verdict_id": "0xab", "provider": "0xcd"})
        wait_for(lambda: [r["state"] for r in outbox(engine)] == ["delivered"])
    finally:
        notifier.stop()
    assert len(receiver.requests) == 3  # two 500s, then accepted
    deliveries = {h["x-swarm-delivery"] for h, _ in receiver.requests}
    assert len(deliveries) == 1, "retries must carry the same delivery id"
    headers, body = receiver.requests[-1]
    expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-swarm-signature"], expected)
    assert headers["x-swarm-event"] == "isolation"
    event = json.loads(body)
    assert event["type"] == "isolation" and event["data"]["verdict_id"] == "0xab"
    assert outbox(engine)[0]["attempts"] == 3


def test_a_receiver_that_never_accepts_is_given_up_after_the_attempt_limit(
    receiver: Receiver, engine: Engine
) -> None:
    receiver.fail_first = 10**6
    notifier = WebhookNotifier(engine, [receiver.url], SECRET, max_attempts=3, backoff=0.01).start()
    try:
        notifier("failure", {"verdict_id": "0x01", "action": "jail", "error": "VerdictExpired"})
        wait_for(lambda: [r["state"] for r in outbox(engine)] == ["failed"])
        time.sleep(0.1)
    finally:
        notifier.stop()
    assert len(receiver.requests) == 3
    assert outbox(engine)[0]["last_error"] == "HTTP 500"


def test_events_survive_a_restart_and_are_delivered_by_the_next_process(
    receiver: Receiver, engine: Engine
) -> None:
    receiver.fail_first = 0
    first = WebhookNotifier(engine, [receiver.url], SECRET)  # never started: a process that died
    first("decision", {"verdict_id": "0x02", "status": "done"})
    first.flush()  # what the background thread does within 0.2 s of the event
    assert receiver.requests == []
    second = WebhookNotifier(engine, [receiver.url], SECRET).start()
    try:
        wait_for(lambda: len(receiver.requests) == 1)
    finally:
        second.stop()
    assert json.loads(receiver.requests[0][1])["data"]["verdict_id"] == "0x02"


def test_a_receiver_that_times_out_does_not_hold_back_another(engine: Engine) -> None:
    slow = Receiver(fail_first=0, delay=2.0)
    fast = Receiver(fail_first=0)
    notifier = WebhookNotifier(engine, [slow.url, fast.url], SECRET, timeout=0.3, backoff=30).start()
    try:
        for i in range(5):
            notifier("warn", {"verdict_id": f"0x{i:02x}"})
        wait_for(lambda: len(fast.requests) == 5, timeout=8)
    finally:
        notifier.stop(drain_seconds=1)
        slow.server.shutdown()
        fast.server.shutdown()
    slow_rows = [r for r in outbox(engine) if r["url"] == slow.url]
    assert all(
        r["state"] == "pending" and r["last_error"] == "ReadTimeout" for r in slow_rows if r["attempts"]
    )
