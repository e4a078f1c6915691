"""Prometheus metrics of the response deadlines and the webhook outbox, read from the service
database at scrape time like `staking.metrics` (SPEC section 10; the alert rules in
`deploy/prometheus/alerts.yml` are written against these names).

- `swarm_isolation_seconds`: histogram of verdict received → jail confirmed on chain, per jail;
- `swarm_isolations_total{outcome}`: jails confirmed `on_time` or `late` against their deadline
  (< 1 min for a breach, < 30 s for an attack, set by the policy on the action);
- `swarm_isolations_overdue`: jails past their deadline and not confirmed yet (stuck now);
- `swarm_webhook_outbox{state}` and `swarm_webhook_oldest_pending_age_seconds`;
- `swarm_cap_jails_used`: jails indexed in the on-chain cap window ending at the last indexed
  block (the contract's own ring counts the same jails; `swarm_cap{name="jail_cap"}` is the bound).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import Connection, Engine, and_, func, select

from staking.db import schema as t
from staking.domain.vocabulary import ActionKind, ActionState

# Seconds: the deadlines are 30 s (attack) and 60 s (breach); the buckets bracket both.
ISOLATION_BUCKETS = (1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 120.0, 300.0)
OUTBOX_STATES = ("pending", "delivered", "failed")
# A jail that no longer waits: it landed, or it will never be sent.
SETTLED = (ActionState.CONFIRMED.value, ActionState.SKIPPED.value, ActionState.FAILED.value)


class ResponseCollector(Collector):
    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        now_ms = int(self.clock() * 1000)
        with self.engine.connect() as conn:
            yield from _isolations(conn, now_ms)
            yield from _outbox(conn, now_ms)
            jails = _jails_in_cap_window(conn)
        if jails is not None:
            yield GaugeMetricFamily(
                "swarm_cap_jails_used",
                "Jails indexed in the on-chain cap window ending at the last indexed block",
                value=jails,
            )


def _isolations(conn: Connection, now_ms: int) -> Iterator[Metric]:
    a, v = t.actions.c, t.verdicts.c
    jail = a.kind == ActionKind.JAIL.value
    rows = conn.execute(
        select(a.confirmed_ms - v.received_ms, a.confirmed_ms <= a.deadline_ms)
        .select_from(t.actions.join(t.verdicts, t.verdicts.c.id == a.verdict_id))
        .where(jail, a.state == ActionState.CONFIRMED.value, a.confirmed_ms.is_not(None))
    ).all()
    seconds = [max(0, int(ms)) / 1000 for ms, _ in rows]
    buckets = [(str(b), sum(1 for s in seconds if s <= b)) for b in ISOLATION_BUCKETS]
    yield HistogramMetricFamily(
        "swarm_isolation_seconds",
        "Verdict received to jail confirmed on chain, per confirmed jail",
        buckets=[*buckets, ("+Inf", len(seconds))],
        sum_value=sum(seconds),
    )
    outcomes = CounterMetricFamily(
        "swarm_isolations", "Confirmed jails, on time or late against their deadline", labels=["outcome"]
    )
    late = sum(1 for _, on_time in rows if not on_time)
    outcomes.add_metric(["on_time"], len(rows) - late)
    outcomes.add_metric(["late"], late)
    yield outcomes
    overdue = conn.execute(
        select(func.count()).where(jail, a.state.not_in(SETTLED), a.deadline_ms < now_ms)
    ).scalar_one()
    yield GaugeMetricFamily(
        "swarm_isolations_overdue", "Jails past their deadline and not confirmed yet", value=int(overdue)
    )


def _outbox(conn: Connection, now_ms: int) -> Iterator[Metric]:
    w = t.webhook_outbox.c
    rows = conn.execute(select(w.state, func.count()).group_by(w.state))
    counts: dict[str, int] = {str(state): int(n) for state, n in rows}
    gauge = GaugeMetricFamily("swarm_webhook_outbox", "Webhook deliveries by state", labels=["state"])
    for state in sorted(set(OUTBOX_STATES) | set(counts)):
        gauge.add_metric([state], counts.get(state, 0))
    yield gauge
    oldest = conn.execute(select(func.min(w.created_ms)).where(w.state == "pending")).scalar()
    yield GaugeMetricFamily(
        "swarm_webhook_oldest_pending_age_seconds",
        "Age of the oldest undelivered webhook (0 when none waits)",
        value=0 if oldest is None else max(0, now_ms - int(oldest)) / 1000,
    )


def _jails_in_cap_window(conn: Connection) -> int | None:
    window = str(conn.execute(select(t.params.c.value).where(t.params.c.name == "cap_window")).scalar() or "")
    last = str(conn.execute(select(t.meta.c.value).where(t.meta.c.key == "checkpoint_time")).scalar() or "")
    if not window.isdigit() or not last.isdigit():
        return None
    e = t.events.c
    until = int(last)
    jailed = and_(e.name == "Jailed", e.block_time > until - int(window), e.block_time <= until)
    return int(conn.execute(select(func.count()).where(jailed)).scalar_one())
