"""Prometheus metrics for `GET /metrics`, read from the service database at scrape time.

The service runs as several processes (API replicas, worker, indexer), so nothing is counted in
process memory: the worker records every scheduled job run in `job_runs`, and the rest is counted
from the service's own tables. Any API process therefore answers for the whole service.

The exception is the API's own request latency (`swarm_http_request_duration_seconds`), which is
per process by nature: Prometheus scrapes every replica and sums the histograms.

The collector is registered on a fresh `CollectorRegistry` per app, never on the global one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Column, Connection, Engine, func, select

from staking.db import schema as t
from staking.db.lock import lease_clock_ms
from staking.db.meta import DRIFT_CHECKED_MS, DRIFT_FIELDS
from staking.domain.vocabulary import ActionKind, AppealState, TxState, VerdictStatus
from staking.intake.investigations import INVESTIGATION_STATUSES
from staking.metrics_response import ResponseCollector
from staking.readmodel.appeals import APPEAL_STATES
from staking.txmanager.store import fee_capped_by_kind

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # text/plain; version=0.0.4; charset=utf-8

# Known label values are always exposed (0 when absent), so alerts and rates see every series.
LEADER_ROLES = ("worker", "indexer")
VERDICT_STATUSES = tuple(VerdictStatus)
INTENT_STATES = tuple(s.value for s in TxState)
# Action kinds of the transaction manager's idempotency keys (`<kind>:<id>`).
TX_KINDS = (
    ActionKind.JAIL.value,
    ActionKind.PROPOSE_SLASH.value,
    ActionKind.BEGIN_RECOVERY.value,
    "execute_slash",
    "publish_epoch",
)
# Request latency buckets (seconds): provider lookups are expected well under 50 ms.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


# Row counts by label: (metric, help, grouped columns = labels, label values always exposed).
COUNTED: tuple[tuple[str, str, tuple[Column[Any], ...], tuple[str, ...]], ...] = (
    ("swarm_verdicts", "Verdicts by status", (t.verdicts.c.status,), VERDICT_STATUSES),
    ("swarm_actions", "Decided actions by kind and state", (t.actions.c.kind, t.actions.c.state), ()),
    ("swarm_tx_intents", "Transaction intents by state", (t.tx_intents.c.state,), INTENT_STATES),
    (
        "swarm_investigations",
        "Investigations by status",
        (t.investigations.c.status,),
        INVESTIGATION_STATUSES,
    ),
    (
        "swarm_drift_findings",
        "Fields where the projection differed from the contract at the latest drift check",
        (t.drift_findings.c.field,),
        DRIFT_FIELDS,
    ),
    (
        "swarm_appeals",
        "Providers' appeals of slashes by state (indexed)",
        (t.appeals.c.state,),
        APPEAL_STATES,
    ),
)


class ServiceCollector(Collector):
    """Job runs, verdicts, actions, transaction intents, investigations, drift and indexer progress."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        with self.engine.connect() as conn:
            yield from self._jobs(conn)
            for name, doc, columns, known in COUNTED:
                counts = _counts(conn, *columns)
                yield _by_label(name, doc, [c.name for c in columns], counts, known)
            yield _by_label(
                "swarm_tx_fee_capped",
                "Open transaction intents stuck at the fee cap (not replaceable with higher fees), by kind",
                ["kind"],
                {(k,): n for k, n in fee_capped_by_kind(conn).items()},
                TX_KINDS,
            )
            yield from self._indexer(conn)
            yield from self._leaders(conn)
            yield self._overdue_appeals(conn)

    @staticmethod
    def _jobs(conn: Connection) -> Iterator[Metric]:
        runs = CounterMetricFamily("swarm_job_runs", "Finished runs of a scheduled job", labels=["job"])
        failures = CounterMetricFamily(
            "swarm_job_failures", "Runs of a scheduled job that raised", labels=["job"]
        )
        duration = GaugeMetricFamily(
            "swarm_job_last_duration_seconds", "Duration of the job's latest run", labels=["job"]
        )
        success = GaugeMetricFamily(
            "swarm_job_last_success_timestamp_seconds",
            "Unix time the job's latest successful run finished",
            labels=["job"],
        )
        failed = GaugeMetricFamily(
            "swarm_job_last_run_failed", "1 if the job's latest run failed, else 0", labels=["job"]
        )
        for r in conn.execute(select(t.job_runs).order_by(t.job_runs.c.name)):
            runs.add_metric([r.name], r.runs)
            failures.add_metric([r.name], r.failures)
            if r.last_duration_ms is not None:
                duration.add_metric([r.name], r.last_duration_ms / 1000)
            if r.last_success_ms is not None:
                success.add_metric([r.name], r.last_success_ms / 1000)
            if r.last_status is not None:
                failed.add_metric([r.name], float(r.last_status == "failed"))
        yield from (runs, failures, duration, success, failed)

    @staticmethod
    def _leaders(conn: Connection) -> Iterator[Metric]:
        """Whether the worker and the indexer have a live leader (an unexpired lease), and its term
        (a rising term counts takeovers), by the database's clock as leaders and standbys see it."""
        leader = GaugeMetricFamily(
            "swarm_worker_leader",
            "1 if a process holds the role's leader lease and the lease has not expired, else 0",
            labels=["role"],
        )
        term = GaugeMetricFamily("swarm_leader_term", "The term of the role's latest leader", labels=["role"])
        now = lease_clock_ms(conn)
        leases = {r.name: r for r in conn.execute(select(t.leader_leases))}
        for role in LEADER_ROLES:
            lease = leases.get(role)
            leader.add_metric([role], float(lease is not None and lease.expires_at >= now))
            if lease is not None:
                term.add_metric([role], lease.term)
        yield from (leader, term)

    @staticmethod
    def _overdue_appeals(conn: Connection) -> Metric:
        """Open appeals whose deadline passed by the last indexed block's time (`appealOf` reads
        them expired): the council did not decide in time, and the next executeSlash refunds the
        bond and executes the slash."""
        at = conn.execute(select(t.meta.c.value).where(t.meta.c.key == "checkpoint_time")).scalar()
        query = select(func.count()).select_from(t.appeals).where(t.appeals.c.state == AppealState.OPEN.wire)
        overdue = conn.execute(query.where(t.appeals.c.deadline <= int(at))).scalar_one() if at else 0
        return GaugeMetricFamily(
            "swarm_appeals_overdue",
            "Open appeals past their deadline (unresolved by the council) at the last indexed block",
            value=int(overdue),
        )

    @staticmethod
    def _indexer(conn: Connection) -> Iterator[Metric]:
        keys = ("head_block", "checkpoint_block", "checkpoint_time", DRIFT_CHECKED_MS)
        meta = {r.key: r.value for r in conn.execute(select(t.meta).where(t.meta.c.key.in_(keys)))}
        for key, name, doc in (
            ("head_block", "swarm_indexer_head_block", "Chain head the indexer last saw"),
            ("checkpoint_block", "swarm_indexer_last_indexed_block", "Last block indexed into SQL"),
            (
                "checkpoint_time",
                "swarm_indexer_last_indexed_block_timestamp_seconds",
                "Timestamp of the last indexed block",
            ),
        ):
            if meta.get(key, "").isdigit():
                yield GaugeMetricFamily(name, doc, value=int(meta[key]))
        if meta.get(DRIFT_CHECKED_MS, "").isdigit():
            yield GaugeMetricFamily(
                "swarm_drift_last_check_timestamp_seconds",
                "Unix time of the latest drift check of the projection against the contract",
                value=int(meta[DRIFT_CHECKED_MS]) / 1000,
            )
        head, indexed = meta.get("head_block", ""), meta.get("checkpoint_block", "")
        if head.isdigit() and indexed.isdigit():
            yield GaugeMetricFamily(
                "swarm_indexer_lag_blocks",
                "Blocks between the chain head the indexer last saw and its checkpoint",
                value=max(0, int(head) - int(indexed)),
            )


def _counts(conn: Connection, *columns: Column[Any]) -> dict[tuple[str, ...], int]:
    rows = conn.execute(select(*columns, func.count()).group_by(*columns))
    return {tuple(str(v) for v in r[:-1]): int(r[-1]) for r in rows}


def _by_label(
    name: str,
    doc: str,
    labels: list[str],
    counts: dict[tuple[str, ...], int],
    known: tuple[str, ...] = (),
) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, doc, labels=labels)
    for key in sorted({(k,) for k in known} | set(counts)):
        gauge.add_metric(list(key), counts.get(key, 0))
    return gauge


def metrics_registry(engine: Engine) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServiceCollector(engine))
    registry.register(ResponseCollector(engine))
    return registry


def request_latency(registry: CollectorRegistry) -> Histogram:
    """`swarm_http_request_duration_seconds{method, route, status}` on `registry`; `route` is the
    route template (`/v1/providers/{address}`), so label values stay few."""
    return Histogram(
        "swarm_http_request_duration_seconds",
        "HTTP request latency by route template and status, in this API process",
        ["method", "route", "status"],
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )


def render(registry: CollectorRegistry) -> bytes:
    """The Prometheus text exposition (format 0.0.4) of `registry`."""
    return generate_latest(registry)
