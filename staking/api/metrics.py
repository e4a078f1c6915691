"""`GET /metrics`: Prometheus text format, counted from the service database (`staking.metrics`),
so every API process answers for the whole service. Admin-only once an admin token is configured."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CollectorRegistry

from staking.api.security import admin_route
from staking.metrics import CONTENT_TYPE, render


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
