"""`GET /v1/incidents` and `GET /v1/incidents/{id}` (SPEC section 8): what the intake contained —
verdicts against many providers at once, whose slashes are held until governance releases or
dismisses the incident from the CLI (`swarm-staking incident ...`). Also the `/readyz` check
`incidents` (degraded while one is open); the metrics are `staking.api.metrics.IncidentCollector`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from staking.api.problems import ProblemException, problem_responses
from staking.domain.vocabulary import ActionState, IncidentKind, IncidentState, VerdictStatus
from staking.readmodel import incidents as rm
from staking.readmodel.queries import snapshot

NAMED = 5  # open incidents a degraded /readyz names


# ------------------------------------------------------------------------------------ models


class IncidentSummary(BaseModel):
    id: int
    kind: IncidentKind
    subject: str = Field(
        description="The detector's address (kind detector) or the event type (kind event_type)"
    )
    state: IncidentState
    reason: str = Field(description="The threshold crossed, in words")
    opened_at: str
    updated_at: str
    closed_at: str | None
    closed_by: str | None
    note: str | None = Field(description="The release note or the reason of the dismissal")
    verdicts: int
    providers: int
    held_actions: int = Field(description="Actions of its verdicts held now")
    incident: str = Field(description="Path of the incident document")


class IncidentPage(BaseModel):
    items: list[IncidentSummary]
    next_cursor: str | None


class IncidentVerdict(BaseModel):
    id: str
    provider: str
    event_type: str
    severity: str
    signer: str
    status: VerdictStatus
    verdict: str


class HeldAction(BaseModel):
    verdict_id: str
    kind: str
    state: ActionState = Field(
        description="held while the incident is open; then pending, submitted, ... or skipped"
    )


class IncidentDocument(IncidentSummary):
    verdicts: list[IncidentVerdict]  # type: ignore[assignment]
    providers: list[str]  # type: ignore[assignment]
    held_actions: list[HeldAction]  # type: ignore[assignment]
    stake_at_risk: str = Field(
        description="Base units (decimal string): what its slashes not vetoed, executed or skipped "
        "may still take"
    )


# ------------------------------------------------------------------------------------ router


def incidents_router(engine: Engine) -> APIRouter:
    router = APIRouter(tags=["incidents"])

    @router.get(
        "/v1/incidents",
        response_model=IncidentPage,
        summary="Incidents, newest first",
        responses=problem_responses(422),
    )
    def list_incidents(
        state: Annotated[IncidentState | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=rm.MAX_PAGE)] = 50,
        cursor: Annotated[
            str | None, Query(max_length=200, description="`next_cursor` of the last page")
        ] = None,
    ) -> dict[str, Any]:
        try:
            return rm.list_incidents(engine, None if state is None else state.value, limit, cursor)
        except ValueError as exc:
            error = {"field": "cursor", "in": "query", "message": str(exc)}
            raise ProblemException(422, "invalid-request", str(exc), errors=[error]) from None

    @router.get(
        "/v1/incidents/{incident_id}",
        response_model=IncidentDocument,
        summary="An incident: its verdicts, providers, held actions and the stake at risk",
        responses=problem_responses(404, 422),
    )
    def get_incident(incident_id: Annotated[int, Path(ge=1, le=2**63 - 1)]) -> dict[str, Any]:
        document = rm.read_incident(engine, incident_id)
        if document is None:
            raise ProblemException(404, None, f"no incident {incident_id}")
        return document

    return router


# ------------------------------------------------------------------------------------ /readyz


def incidents_check(engine: Engine) -> tuple[dict[str, Any], str | None]:
    """(check, failure) for `/readyz`: degraded while an incident is open, naming up to NAMED."""
    try:
        with snapshot(engine) as conn:
            opened = rm.open_incidents(conn)
    except Exception as exc:
        return {"status": "unknown", "error": type(exc).__name__}, None
    if not opened:
        return {"status": "ok", "open": 0}, None
    named = "; ".join(
        f"#{i['id']} {i['kind']} {i['subject']} ({i['verdicts']} verdicts, {i['providers']} providers, "
        f"{i['held_actions']} held actions)"
        for i in opened[:NAMED]
    )
    more = f" and {len(opened) - NAMED} more" if len(opened) > NAMED else ""
    failure = (
        f"{len(opened)} open incident(s), slashes held until governance releases or dismisses them "
        f"(swarm-staking incident show ID): {named}{more}"
    )
    ids = [i["id"] for i in opened]
    return {"status": "degraded", "open": len(opened), "incidents": ids}, failure
