"""A webhook receiver on 127.0.0.1 for fault runs: checks each delivery's HMAC signature, records
it, and, while `hang_probability` > 0, keeps a share of the requests waiting `hang_seconds` (past
the notifier's timeout) before it answers, as a receiver that times out does.

Deliveries are grouped by the first path segment (`/t7/...` -> "t7"), so one receiver serves a
whole run of trials.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class SinkStats:
    received: int = 0  # requests answered or hung
    deliveries: set[str] = field(default_factory=set)  # distinct X-Swarm-Delivery ids
    duplicates: int = 0  # a delivery id seen again (a retry after a timeout)
    bad_signatures: int = 0
    hung: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)


class WebhookSink:
    def __init__(self, secret: bytes, hang_seconds: float = 7.0, seed: int = 0) -> None:
        self.secret = secret
        self.hang_seconds = hang_seconds
        self.hang_probability = 0.0
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.stats: dict[str, SinkStats] = {}
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                group = self.path.strip("/").split("/", 1)[0]
                hang = sink.record(group, self.headers, body)
                if hang:
                    time.sleep(sink.hang_seconds)
                try:
                    self.send_response(200)
                    self.send_header("content-length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the notifier gave up waiting: that is the point

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, name="webhook-sink", daemon=True)

    def start(self) -> WebhookSink:
        self._thread.start()
        return self

    def url(self, group: str) -> str:
        return f"http://127.0.0.1:{self.port}/{group}/hook"

    def record(self, group: str, headers: object, body: bytes) -> bool:
        """Books a delivery; whether to hang on it."""
        get = getattr(headers, "get", lambda _k, _d=None: None)
        expected = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        good = hmac.compare_digest(str(get("x-swarm-signature", "")), expected)
        delivery = str(get("x-swarm-delivery", ""))
        with self.lock:
            s = self.stats.setdefault(group, SinkStats())
            s.received += 1
            if delivery in s.deliveries:
                s.duplicates += 1
            s.deliveries.add(delivery)
            s.by_kind[str(get("x-swarm-event", "?"))] += 1
            if not good:
                s.bad_signatures += 1
            hang = self.rng.random() < self.hang_probability
            if hang:
                s.hung += 1
        return hang

    def group(self, name: str) -> SinkStats:
        with self.lock:
            return self.stats.setdefault(name, SinkStats())

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
