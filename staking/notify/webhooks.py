"""Webhooks: JSON POSTs signed with HMAC-SHA256, delivered in the background with retries.

Headers: `X-Swarm-Event` (the kind), `X-Swarm-Delivery` (a unique id, stable across retries, for
receivers to de-duplicate), `X-Swarm-Signature: sha256=<hex HMAC of the raw body with the shared
secret>`. A receiver recomputes the HMAC over the exact bytes it received and compares in
constant time. Delivery never blocks the worker: events go through a bounded queue.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

log = logging.getLogger("webhooks")
KINDS = ("decision", "isolation", "open_investigation", "propose_tombstone", "warn", "failure")


def signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


@dataclass
class WebhookNotifier:
    urls: list[str]
    secret: bytes
    max_attempts: int = 5
    backoff: float = 0.5  # seconds, doubled per attempt
    timeout: float = 5.0
    queue_size: int = 10_000
    _queue: queue.Queue[tuple[str, dict[str, Any], str]] = field(init=False)
    _stop: threading.Event = field(init=False, default_factory=threading.Event)
    _thread: threading.Thread | None = field(init=False, default=None)
    delivered: int = field(init=False, default=0)
    dropped: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._queue = queue.Queue(self.queue_size)

    def start(self) -> WebhookNotifier:
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
        self._thread.start()
        return self

    def __call__(self, kind: str, payload: dict[str, Any]) -> None:
        """Queue an event (the executor's `notify` callback). Never blocks, never raises."""
        if not self.urls:
            return
        try:
            self._queue.put_nowait((kind, payload, uuid.uuid4().hex))
        except queue.Full:
            self.dropped += 1
            log.error("webhook queue full; event dropped", extra={"kind": kind})

    def stop(self, drain_seconds: float = 5.0) -> None:
        deadline = time.monotonic() + drain_seconds
        while not self._queue.empty() and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=drain_seconds)

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while not self._stop.is_set():
                try:
                    kind, payload, delivery = self._queue.get(timeout=0.2)
                except queue.Empty:
                    continue
                body = json.dumps(
                    {"type": kind, "delivery": delivery, "sent_at": int(time.time()), "data": payload},
                    separators=(",", ":"),
                    default=str,
                ).encode()
                headers = {
                    "content-type": "application/json",
                    "x-swarm-event": kind,
                    "x-swarm-delivery": delivery,
                    "x-swarm-signature": signature(self.secret, body),
                }
                for url in self.urls:
                    self._deliver(client, url, body, headers, kind)

    def _deliver(
        self, client: httpx.Client, url: str, body: bytes, headers: dict[str, str], kind: str
    ) -> None:
        wait = self.backoff
        for attempt in range(1, self.max_attempts + 1):
            try:
                response = client.post(url, content=body, headers=headers)
                if response.status_code < 300:
                    self.delivered += 1
                    return
                reason = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                reason = type(exc).__name__
            if attempt < self.max_attempts and not self._stop.wait(wait):
                wait *= 2
                continue
            break
        log.error(
            "webhook delivery failed", extra={"url": url, "kind": kind, "attempts": attempt, "reason": reason}
        )
