"""What the detectors send and what the webhook receiver hears in the rogue-detector trial.

- `TimedSink`: the fault runs' webhook receiver, noting when each kind first arrived and keeping
  the incident deliveries' bodies.
- `HonestStream`: two honest detectors' normal traffic against a few providers, a few verdicts
  per second: mostly `suspicious_activity` (investigations: no offence, no jail), a few
  low-severity offences of other types (at most `jailing_budget`: they may jail once a provider's
  history escalates them), and isolations (`security_breach` / `system_attack`, high severity)
  on demand, each co-signed by the other honest detector.
- `isolation_report`: each isolation's seconds from detection to its confirmed jail.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from faults.burst import RETRY_STATUSES
from faults.webhook_sink import WebhookSink
from staking.devnet.harness import VerdictSigner
from staking.domain.vocabulary import EventType, Severity
from staking.verdict import to_wire

OFFENCES = (EventType.PERFORMANCE_VIOLATION, EventType.POLICY_VIOLATION, EventType.OPERATIONAL_FAILURE)
OFFENCE_EVERY = 10  # one normal verdict in this many is an offence, while the budget lasts
DEADLINES = {EventType.SECURITY_BREACH: 60, EventType.SYSTEM_ATTACK: 30}  # the default policy's


class TimedSink(WebhookSink):
    def __init__(self, secret: bytes) -> None:
        super().__init__(secret)
        self.first_at: dict[str, float] = {}  # kind -> time.time() of its first delivery
        self.incidents: list[dict[str, Any]] = []
        self._times = threading.Lock()

    def record(self, group: str, headers: object, body: bytes) -> bool:
        kind = str(getattr(headers, "get", lambda _k, _d=None: None)("x-swarm-event", "?"))
        with self._times:
            self.first_at.setdefault(kind, time.time())
            if kind == "incident":
                try:
                    self.incidents.append(json.loads(body))
                except ValueError:
                    self.incidents.append({"unparsed": body[:200].decode(errors="replace")})
        return super().record(group, headers, body)


def post(client: httpx.Client, body: dict[str, Any], give_up_after: float = 15.0) -> int:
    """POST /v1/verdicts until answered (retrying refusals, 429 and 5xx as a detector does);
    the final HTTP status, 0 when the service never answered."""
    began = time.monotonic()
    while True:
        try:
            status = client.post("/v1/verdicts", json=body).status_code
        except httpx.HTTPError:
            status = 0
        if status not in RETRY_STATUSES or time.monotonic() - began > give_up_after:
            return status
        time.sleep(0.2)


@dataclass
class Isolation:
    id: str
    detector: str
    provider: str
    event: EventType
    detected_at: int
    phase: str  # when in the trial it was sent
    status: int = 0
    cosign_status: int | None = None

    @property
    def deadline(self) -> int:
        return DEADLINES[self.event]


class HonestStream:
    """Runs in its own thread from `start()` to `stop()`; `isolate()` sends one isolation now."""

    def __init__(
        self,
        base_url: str,
        signers: tuple[VerdictSigner, VerdictSigner],
        targets: list[str],
        rate: float,
        seed: int,
        jailing_budget: int,
    ) -> None:
        self.base_url = base_url
        self.signers = signers
        self.targets = targets
        self.rate = rate  # verdicts per second, both detectors together
        self.rng = random.Random(seed)
        self.jailing_budget = jailing_budget
        self.jailing_sent = 0
        self.lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.sent: list[str] = []  # ids of the normal verdicts
        self.isolations: list[Isolation] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="honest-stream", daemon=True)
        self._posters: list[threading.Thread] = []

    def start(self) -> HonestStream:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        for t in self._posters:
            t.join(timeout=30)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=10) as client:
            turn = 0
            while not self._stop.wait(1.0 / self.rate):
                signer = self.signers[turn % 2]
                turn += 1
                with self.lock:  # the signers' counters are shared with isolate()
                    provider = self.rng.choice(self.targets)
                    if turn % OFFENCE_EVERY == 0 and self.jailing_sent < self.jailing_budget:
                        self.jailing_sent += 1
                        event, severity = self.rng.choice(OFFENCES), Severity.LOW
                    else:
                        event, severity = EventType.SUSPICIOUS_ACTIVITY, self.rng.choice(list(Severity))
                    body = signer.body(provider, event, severity, int(time.time()))
                status = post(client, body)
                with self.lock:
                    self.statuses[status] += 1
                    self.sent.append(body["id"])

    def isolate(self, event: EventType, phase: str) -> None:
        """One isolating verdict from the next honest detector against the next target, posted
        (and co-signed by the other honest detector) in a thread of its own."""
        with self.lock:
            k = len(self.isolations)
            signer, cosigner = self.signers[k % 2], self.signers[(k + 1) % 2]
            v = signer.verdict(self.targets[k % len(self.targets)], event, Severity.HIGH, int(time.time()))
            iso = Isolation("0x" + v.id.hex(), signer.address, v.provider, event, v.detected_at, phase)
            self.isolations.append(iso)

        def send() -> None:
            with httpx.Client(base_url=self.base_url, timeout=10) as client:
                iso.status = post(client, to_wire(v, signer.sign(v)))
                time.sleep(0.3)
                iso.cosign_status = post(client, to_wire(v, cosigner.sign(v)))

        t = threading.Thread(target=send, name=f"isolation-{k}", daemon=True)
        t.start()
        self._posters.append(t)


def _resource(client: httpx.Client, vid: str) -> dict[str, Any]:
    try:
        r = client.get(f"/v1/verdicts/{vid}")
        return dict(r.json()) if r.status_code == 200 else {}
    except httpx.HTTPError:
        return {}


def _jail_confirmed(resource: dict[str, Any]) -> float | None:
    """When the service saw the verdict's jail confirmed (unix seconds), or None."""
    for a in resource.get("actions", []):
        if a.get("kind") == "jail" and a.get("state") == "confirmed" and a.get("confirmed_at"):
            return datetime.fromisoformat(str(a["confirmed_at"]).replace("Z", "+00:00")).timestamp()
    return None


def isolation_report(
    base_url: str, isolations: list[Isolation], jailed_at: dict[str, float], settle: float
) -> tuple[list[dict[str, Any]], list[str]]:
    """Each isolation's latency: from its detection to its jail confirmed, as the verdict
    resource says (`confirmed_at`), else as the chain's Jailed event (`jailed_at`: verdict id ->
    the block's time on the wall clock). Waits until every jail is confirmed or `settle` seconds
    past the last deadline. (rows, violations)."""
    last = max((i.detected_at + i.deadline for i in isolations), default=0) + settle
    with httpx.Client(base_url=base_url, timeout=10) as client:
        while True:
            resources = {i.id: _resource(client, i.id) for i in isolations}
            done = all(_jail_confirmed(r) is not None for r in resources.values())
            if done or time.time() > last:
                break
            time.sleep(1.0)
    rows, bad = [], []
    for i in isolations:
        confirmed = _jail_confirmed(resources[i.id])
        api = None if confirmed is None else round(confirmed - i.detected_at, 1)
        on_chain = round(jailed_at[i.id] - i.detected_at, 1) if i.id in jailed_at else None
        latency = api if api is not None else on_chain
        within = latency is not None and latency <= i.deadline
        if not within:
            took = "never jailed" if latency is None else f"jailed after {latency}s"
            bad.append(
                f"honest {i.event.wire} isolation {i.id[:10]} ({i.phase}): {took}, deadline {i.deadline}s"
            )
        rows.append(
            {
                "verdict": i.id, "event_type": i.event.wire, "phase": i.phase, "provider": i.provider,
                "status": i.status, "cosignature_status": i.cosign_status,
                "signers": resources[i.id].get("signers"), "deadline_seconds": i.deadline,
                "latency_seconds": api, "chain_latency_seconds": on_chain, "within_deadline": within,
            }
        )  # fmt: skip
    return rows, bad
