"""`GET /metrics`: Prometheus text format, counted from the service database (`staking.metrics`),
so every API process answers for the whole service. Admin-only once an admin token is configured."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from staking.api.security import admin_route
from staking.metrics import CONTENT_TYPE, render
from staking.readmodel import incidents


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
    """`swarm_incidents_open` and `swarm_actions_held{kind}`, counted from the database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        with self.engine.connect() as conn:
            opened = len(incidents.open_incidents(conn))
            held = incidents.held_action_count(conn)
        yield GaugeMetricFamily(
            "swarm_incidents_open", "Open incidents (their slashes are held)", value=opened
        )
        gauge = GaugeMetricFamily(
            "swarm_actions_held", "Actions held by an open incident, by kind", labels=["kind"]
        )
        for kind, n in sorted(held.items()):
            gauge.add_metric([kind], n)
        yield gauge
