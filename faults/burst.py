"""Verdict bursts for fault runs: signed verdicts of every event type, posted by concurrent
detectors that retry until the service answers 200/202, as a detector must.

With several API replicas a detector spreads its posts over them (round robin) and fails over to
the next replica when one is down (connection refused, 5xx, 429). Optional pacing spreads a burst
over a few seconds, so faults land while verdicts are still arriving.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import httpx

from staking.devnet.harness import LocalDeployment, VerdictSigner
from staking.domain.vocabulary import EventType, Severity

DETECTORS = 4  # concurrent posting threads
RETRY_STATUSES = (0, 429, 500, 502, 503, 504)  # 0: refused or cut off (a killed process)


def make_bodies(net: LocalDeployment, rng: random.Random, count: int, label: str) -> list[dict[str, Any]]:
    """`count` signed verdict bodies (seeded providers, event types, severities), detected now."""
    signer = VerdictSigner(net, label)
    now = net.now()
    events = list(EventType)
    return [
        signer.body(rng.choice(net.providers), rng.choice(events), rng.choice(list(Severity)), now)
        for _ in range(count)
    ]


class Burst:
    """Posts every body until one of the services accepts it, whatever state they are in."""

    def __init__(
        self,
        base_urls: str | list[str],
        bodies: list[dict[str, Any]],
        detectors: int = DETECTORS,
        pace: float = 0.0,
        seed: int = 0,
        give_up_after: float | None = None,
    ) -> None:
        self.base_urls = [base_urls] if isinstance(base_urls, str) else list(base_urls)
        self.queue = list(reversed(bodies))
        self.detectors = detectors
        self.pace = pace  # mean seconds a detector waits between two verdicts
        self.seed = seed
        self.give_up_after = give_up_after  # seconds per verdict; None: retry for ever
        self.lock = threading.Lock()
        self.accepted: dict[str, int] = {}  # verdict id -> 200/202
        self.accepted_at: dict[str, float] = {}  # verdict id -> time.time() of the accepting answer
        self.refused: list[str] = []
        self.retries = 0
        self.failovers = 0
        self.by_replica: list[int] = [0] * len(self.base_urls)  # accepted answers per replica
        self.finished_at: float | None = None

    @property
    def posted(self) -> int:
        with self.lock:
            return len(self.accepted) + len(self.refused)

    def _next(self) -> dict[str, Any] | None:
        with self.lock:
            return self.queue.pop() if self.queue else None

    def _post(self, clients: list[httpx.Client], start: int, body: dict[str, Any]) -> None:
        replica = start % len(clients)
        began = time.monotonic()
        while True:
            retry_after = 0.1
            try:
                response = clients[replica].post("/v1/verdicts", json=body)
                status = response.status_code
                if status == 429:
                    retry_after = min(5.0, float(response.headers.get("retry-after", "1")))
            except httpx.HTTPError:
                status = 0
            if status in (200, 202):
                with self.lock:
                    self.accepted[body["id"]] = status
                    self.accepted_at[body["id"]] = time.time()
                    self.by_replica[replica] += 1
                return
            if status in RETRY_STATUSES and (
                self.give_up_after is None or time.monotonic() - began < self.give_up_after
            ):
                with self.lock:
                    self.retries += 1
                    if len(clients) > 1:
                        self.failovers += 1
                replica = (replica + 1) % len(clients)  # the next replica, if any
                time.sleep(retry_after)
                continue
            with self.lock:
                self.refused.append(f"verdict {body['id']}: HTTP {status} from {self.base_urls[replica]}")
            return

    def run(self) -> None:
        def detector(index: int) -> None:
            rng = random.Random(self.seed * 1000 + index)
            clients = [httpx.Client(base_url=u, timeout=10) for u in self.base_urls]
            try:
                turn = index
                while (body := self._next()) is not None:
                    self._post(clients, turn, body)
                    turn += 1
                    if self.pace:
                        time.sleep(rng.uniform(0, 2 * self.pace))
            finally:
                for c in clients:
                    c.close()

        threads = [
            threading.Thread(target=detector, args=(i,), daemon=True, name=f"detector-{i}")
            for i in range(self.detectors)
        ]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        self.finished_at = time.time()
