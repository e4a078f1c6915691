"""`GET /v1/investigations`: what suspicious activity opened, for the security team (admin-only
once an admin token is configured). Resolving one is governance's, from the CLI."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import Engine

from staking.api.models import InvestigationPage
from staking.api.problems import ProblemException, problem_responses
from staking.api.security import admin_route
from staking.domain.vocabulary import InvestigationStatus
from staking.intake import investigations


def investigations_router(engine: Engine) -> APIRouter:
    router = APIRouter(tags=["investigations"])

    @router.get(
        "/v1/investigations",
        response_model=InvestigationPage,
        summary="Investigations opened for suspicious activity, newest first",
        description="Security-team data: needs the admin bearer token when SWARM_ADMIN_TOKEN is set.",
        responses=problem_responses(422),
        **admin_route(),
    )
    def list_investigations(
        status: Annotated[InvestigationStatus | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=investigations.MAX_PAGE)] = 50,
        cursor: Annotated[
            str | None, Query(max_length=200, description="`next_cursor` of the last page")
        ] = None,
    ) -> dict[str, Any]:
        try:
            status_name = None if status is None else status.value
            return investigations.list_investigations(engine, status_name, limit, cursor)
        except ValueError as exc:
            error = {"field": "cursor", "in": "query", "message": str(exc)}
            raise ProblemException(422, "invalid-request", str(exc), errors=[error]) from None

    return router
