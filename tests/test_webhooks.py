"""Webhooks: signed with HMAC, retried until the receiver accepts, never blocking the sender."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from staking.notify.webhooks import WebhookNotifier, signature

pytestmark = pytest.mark.integration
SECRET = b"shared-secret-for-tests"


class Receiver:
    def __init__(self, fail_first: int) -> None:
        self.fail_first = fail_first
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(500 if len(receiver.requests) <= receiver.fail_first else 204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail_first=2)
    yield r
    r.server.shutdown()


def wait_for(cond: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_a_failing_receiver_gets_the_same_signed_delivery_until_it_accepts(receiver: Receiver) -> None:
    notifier = WebhookNotifier([receiver.url], SECRET, backoff=0.05).start()
    try:
        notifier("isolation", {"verdict_id": "0xab", "provider": "0xcd"})
        wait_for(lambda: notifier.delivered == 1)
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


def test_a_receiver_that_never_accepts_is_given_up_after_the_attempt_limit(receiver: Receiver) -> None:
    receiver.fail_first = 10**6
    notifier = WebhookNotifier([receiver.url], SECRET, max_attempts=3, backoff=0.01).start()
    try:
        notifier("failure", {"verdict_id": "0x01", "action": "jail", "error": "VerdictExpired"})
        wait_for(lambda: len(receiver.requests) == 3)
        time.sleep(0.1)
    finally:
        notifier.stop()
    assert len(receiver.requests) == 3 and notifier.delivered == 0


@pytest.mark.unit
def test_the_signature_changes_with_any_byte_and_queueing_never_blocks() -> None:
    assert signature(SECRET, b"{}") != signature(SECRET, b"{ }")
    assert signature(SECRET, b"{}") != signature(b"other", b"{}")
    full = WebhookNotifier(["http://127.0.0.1:9/never-started"], SECRET, queue_size=1)
    full("warn", {})
    started = time.monotonic()
    full("warn", {})  # queue full: dropped, not blocking
    assert time.monotonic() - started < 0.1 and full.dropped == 1
