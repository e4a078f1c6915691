"""`GET /metrics`: Prometheus text format, counted from the service database (`staking.metrics`),
so every API process answers for the whole service. Admin-only once an admin token is configured."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from staking.api.security import admin_route
from staking.db import schema as t
from staking.metrics import CONTENT_TYPE, render
from staking.readmodel import incidents
from staking.readmodel.network import indexed_caps


def metrics_router(registry: CollectorRegistry) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get(
        "/metrics",
        response_class=Response,
        summary="Prometheus metrics (text format 0.0.4)",
        description=(
            "Scheduled job runs, verdicts, actions, transaction intents, investigations and indexer "
            "progress, counted from the service database: every API process answers for the whole "
            "service. Needs the admin bearer token when SWARM_ADMIN_TOKEN is set."
        ),
        responses={200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}}},
        **admin_route(),
    )
    def prometheus_metrics() -> Response:
        return Response(render(registry), media_type=CONTENT_TYPE)

    return router


class IncidentCollector(Collector):
    """The blast radius from the database: `swarm_incidents_open`, `swarm_actions_held{kind}`,
    `swarm_verdict_cosignatures` (signatures beyond each verdict's first) and, as last indexed,
    the on-chain bounds `swarm_cap{name}` (jail_cap, slash_cap_bps, max_slash_bps, quorum,
    quorum_bps, cap_window). Their live use is `GET /v1/network` (it needs the node)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        with self.engine.connect() as conn:
            opened = len(incidents.open_incidents(conn))
            held = incidents.held_action_count(conn)
            caps = indexed_caps(conn) or {}
            signatures = conn.execute(select(func.count()).select_from(t.verdict_signers)).scalar_one()
            signed = conn.execute(select(func.count()).select_from(t.verdicts)).scalar_one()
        yield GaugeMetricFamily(
            "swarm_incidents_open", "Open incidents (their slashes are held)", value=opened
        )
        gauge = GaugeMetricFamily(
            "swarm_actions_held", "Actions held by an open incident, by kind", labels=["kind"]
        )
        for kind, n in sorted(held.items()):
            gauge.add_metric([kind], n)
        yield gauge
        yield GaugeMetricFamily(
            "swarm_verdict_cosignatures",
            "Co-signatures: detectors' signatures of a verdict beyond its first",
            value=max(0, int(signatures) - int(signed)),
        )
        bounds = GaugeMetricFamily("swarm_cap", "The on-chain bounds as last indexed", labels=["name"])
        for name in ("cap_window", "jail_cap", "slash_cap_bps", "max_slash_bps", "quorum", "quorum_bps"):
            key = "window_seconds" if name == "cap_window" else name
            if key in caps:
                bounds.add_metric([name], caps[key])
        yield bounds
