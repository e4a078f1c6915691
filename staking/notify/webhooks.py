"""Webhooks: JSON POSTs signed with HMAC-SHA256, delivered from a persisted outbox with retries.

Headers: `X-Swarm-Event` (the kind), `X-Swarm-Delivery` (a unique id, stable across retries, for
receivers to de-duplicate), `X-Swarm-Signature: sha256=<hex HMAC of the raw body with the shared
secret>`. A receiver recomputes the HMAC over the exact bytes it received and compares in
constant time.

Events never block the worker: `notify()` only appends to a buffer. A background thread writes the
buffer to `webhook_outbox` (one transaction per flush, a row per receiver URL) and delivers due
rows; a failed delivery is retried with exponential backoff until `max_attempts`, also after a
restart. Each row has its own schedule, so a receiver that times out delays only its own events.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Connection, Engine, select, update

from staking.db import schema as t

log = logging.getLogger("webhooks")
KINDS = (
    "decision",
    "isolation",
    "open_investigation",
    "propose_tombstone",
    "warn",
    "failure",
    "tx_fee_capped",  # a stuck transaction that cannot be bumped within the fee cap
    "incident",  # an incident opened, grew, was released or dismissed (SPEC section 8)
    "cap",  # an action met an on-chain cap (JailCapExceeded, SlashCapExceeded) and waits
    "detector_revoked",  # `detector revoke` contained a detector
    "policy_changed",  # the API started with a policy other than the one last recorded (SPEC section 11)
)
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


def signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def now_ms() -> int:
    return int(time.time() * 1000)


def _event(kind: str, payload: dict[str, Any]) -> tuple[str, str]:
    """(delivery id, JSON body) of a new event."""
    delivery = uuid.uuid4().hex
    body = json.dumps(
        {"type": kind, "delivery": delivery, "sent_at": int(time.time()), "data": payload},
        separators=(",", ":"),
        default=str,
    )
    return delivery, body


@dataclass
class WebhookNotifier:
    engine: Engine
    urls: list[str]
    secret: bytes
    max_attempts: int = 8
    backoff: float = 1.0  # seconds before the first retry, doubled per attempt
    max_backoff: float = 600.0
    timeout: float = 5.0
    batch: int = 50
    buffer_limit: int = 100_000
    _buffer: list[tuple[str, str, str]] = field(init=False, default_factory=list)  # (kind, delivery, body)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    _stop: threading.Event = field(init=False, default_factory=threading.Event)
    _thread: threading.Thread | None = field(init=False, default=None)
    dropped: int = field(init=False, default=0)

    def start(self) -> WebhookNotifier:
        if self.urls:
            self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
            self._thread.start()
        return self

    def __call__(self, kind: str, payload: dict[str, Any]) -> None:
        """Queue an event (the executor's `notify` callback). Never blocks on I/O, never raises."""
        if not self.urls:
            return
        delivery, body = _event(kind, payload)
        with self._lock:
            if len(self._buffer) >= self.buffer_limit:  # the database is unreachable for long
                self.dropped += 1
                log.error("webhook buffer full; event dropped", extra={"kind": kind})
                return
            self._buffer.append((kind, delivery, body))

    def record(self, conn: Connection, kind: str, payload: dict[str, Any]) -> None:
        """Write an event to the outbox in the caller's transaction (`conn`), so it commits, or
        not, with the change it announces (the transaction manager's `outbox`)."""
        if self.urls:
            delivery, body = _event(kind, payload)
            conn.execute(t.webhook_outbox.insert(), self._rows([(kind, delivery, body)]))

    def stop(self, drain_seconds: float = 5.0) -> None:
        """Write what is buffered, try what is due once more, then stop (the rest stays queued)."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=drain_seconds)
        try:
            self.flush()
        except Exception:
            log.exception("webhook events could not be saved at shutdown")

    # ---- the outbox
    def flush(self) -> int:
        """Write the buffered events to the outbox; returns how many rows were added."""
        with self._lock:
            events, self._buffer = self._buffer, []
        if not events:
            return 0
        rows = self._rows(events)
        try:
            with self.engine.begin() as conn:
                conn.execute(t.webhook_outbox.insert(), rows)
        except Exception:
            with self._lock:  # keep them for the next flush
                self._buffer[:0] = events
            raise
        return len(rows)

    def _rows(self, events: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
        created = now_ms()
        return [
            {
                "delivery": delivery,
                "url": url,
                "kind": kind,
                "body": body,
                "state": PENDING,
                "attempts": 0,
                "next_attempt_ms": created,
                "created_ms": created,
            }
            for kind, delivery, body in events
            for url in self.urls
        ]

    def deliver_due(self, client: httpx.Client) -> int:
        """One pass over due deliveries; returns how many were attempted."""
        with self.engine.connect() as conn:
            due = (
                conn.execute(
                    select(t.webhook_outbox)
                    .where(
                        t.webhook_outbox.c.state == PENDING, t.webhook_outbox.c.next_attempt_ms <= now_ms()
                    )
                    .order_by(t.webhook_outbox.c.id)
                    .limit(self.batch)
                )
                .mappings()
                .all()
            )
        for row in due:
            if self._stop.is_set():
                break
            self._attempt(client, row)
        return len(due)

    def _attempt(self, client: httpx.Client, row: Any) -> None:
        body = row["body"].encode()
        headers = {
            "content-type": "application/json",
            "x-swarm-event": row["kind"],
            "x-swarm-delivery": row["delivery"],
            "x-swarm-signature": signature(self.secret, body),
        }
        try:
            response = client.post(row["url"], content=body, headers=headers)
            error = None if response.status_code < 300 else f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        attempts = row["attempts"] + 1
        if error is None:
            values: dict[str, Any] = {"state": DELIVERED, "attempts": attempts, "delivered_ms": now_ms()}
        elif attempts >= self.max_attempts:
            values = {"state": FAILED, "attempts": attempts, "last_error": error}
            log.error(
                "webhook delivery failed",
                extra={"url": row["url"], "kind": row["kind"], "attempts": attempts, "reason": error},
            )
        else:
            wait = min(self.max_backoff, self.backoff * 2 ** (attempts - 1))
            values = {
                "attempts": attempts,
                "last_error": error,
                "next_attempt_ms": now_ms() + int(wait * 1000),
            }
        with self.engine.begin() as conn:
            conn.execute(update(t.webhook_outbox).where(t.webhook_outbox.c.id == row["id"]).values(**values))

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while not self._stop.is_set():
                try:
                    self.flush()
                    busy = self.deliver_due(client)
                except Exception:
                    log.exception("webhook outbox pass failed; retrying")
                    busy = 0
                if not busy:
                    self._stop.wait(0.2)
