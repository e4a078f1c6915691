"""`GET /v1/appeals` (SPEC section 9): providers' appeals of slashes, newest first, by state and
provider; read from the SQL projection (`staking.readmodel.appeals`) on one snapshot. Each slash of
the provider document shows its own appeal (`staking.api.models.SlashAppeal`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from staking.api.models import AppealStateName, SlashStateName
from staking.api.problems import ProblemException, problem_responses
from staking.api.providers import EXAMPLE_ADDRESS, AsOf, Cursor, Limit
from staking.domain.ids import ADDRESS_PATTERN, InvalidAddress
from staking.readmodel.appeals import list_appeals
from staking.readmodel.queries import snapshot


class AppealedSlash(BaseModel):
    state: SlashStateName | None = Field(description="null: the slash is not indexed (never expected)")
    bps: int | None
    amount: str | None = Field(description="Proposed amount; the executed amount once executed (base units)")
    executable_at: int | None = Field(description="From when executeSlash() is possible")


class Appeal(BaseModel):
    id: str = Field(description="The slash id (= the verdict id): one appeal per slash")
    provider: str
    state: AppealStateName = Field(
        description="As appealOf answers: an open appeal reads expired from its deadline on (its "
        "bond is refunded at the next executeSlash)"
    )
    evidence_hash: str = Field(description="sha256 of the provider's evidence file")
    bond: str = Field(description="The bond (base units, decimal string)")
    deadline: int = Field(description="Unix time until which the council may resolve it")
    reason_hash: str | None = Field(description="The council's reasonHash once resolved")
    resolved_at: int | None = Field(description="Block time of the resolution or the expiry")
    executable_at: int | None = Field(description="Rejected: the slash's new executableAt")
    appealed_at: int
    appealed_block: int
    appealed_tx: str
    resolved_block: int | None
    resolved_tx: str | None
    slash: AppealedSlash
    provider_document: str = Field(description="Path of the provider's document")


class AppealPage(BaseModel):
    items: list[Appeal]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last")
    as_of: AsOf


def _invalid(field: str, exc: ValueError) -> ProblemException:
    error = {"field": field, "in": "query", "message": str(exc)}
    return ProblemException(422, "invalid-request", f"{field}: {exc}", errors=[error])


def appeals_router(engine: Engine, clock: Callable[[], float]) -> APIRouter:
    """`GET /v1/appeals` over `engine`; `clock` (unix seconds) is the time states are judged at,
    like the provider documents'."""
    router = APIRouter(tags=["slashes"])

    @router.get(
        "/v1/appeals",
        response_model=AppealPage,
        summary="Appeals of slashes, newest first",
        description=(
            "Providers' appeals of their pending slashes (SPEC section 9), newest first, optionally "
            "of one state and one provider. An open appeal freezes the slash until the council "
            "resolves it or its deadline passes."
        ),
        responses=problem_responses(422),
    )
    def get_appeals(
        state: Annotated[AppealStateName | None, Query()] = None,
        provider: Annotated[
            str | None,
            Query(pattern=ADDRESS_PATTERN, description="Only this provider's", examples=[EXAMPLE_ADDRESS]),
        ] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> dict[str, Any]:
        with snapshot(engine) as conn:
            try:
                return list_appeals(conn, state, limit, cursor, provider=provider, now=int(clock()))
            except InvalidAddress as exc:
                raise _invalid("provider", exc) from None
            except ValueError as exc:
                raise _invalid("cursor", exc) from None

    return router
