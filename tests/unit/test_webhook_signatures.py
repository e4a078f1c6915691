"""Webhook signatures: an HMAC of every byte under the shared secret; queueing never blocks the
sender (a full buffer drops the event and counts it)."""

from __future__ import annotations

import time

import pytest

from staking.notify.webhooks import WebhookNotifier, signature

pytestmark = pytest.mark.unit


SECRET = b"shared-secret-for-tests"


@pytest.mark.unit
def test_the_signature_changes_with_any_byte_and_queueing_never_blocks() -> None:
    assert signature(SECRET, b"{}") != signature(SECRET, b"{ }")
    assert signature(SECRET, b"{}") != signature(b"other", b"{}")
    full = WebhookNotifier(None, ["http://127.0.0.1:9/never-started"], SECRET, buffer_limit=1)  # type: ignore[arg-type]
    full("warn", {})
    started = time.monotonic()
    full("warn", {})  # buffer full: dropped, not blocking
    assert time.monotonic() - started < 0.1 and full.dropped == 1
