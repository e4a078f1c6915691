"""`GET /v1/policy` (SPEC section 11): the policy this API process decides with, and its hash —
the `decision.policy_hash` every verdict it accepts records."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from staking.policy import Policy
from staking.policy.identity import policy_hash


class PolicyResource(BaseModel):
    hash: str = Field(description="sha256 of the canonical policy (sorted-key JSON of every parameter)")
    policy: dict[str, Any] = Field(description="Every parameter, defaults filled in (the canonical form)")


def policy_router(policy: Policy) -> APIRouter:
    router = APIRouter(tags=["policy"])
    body = {"hash": policy_hash(policy), "policy": policy.model_dump(mode="json")}

    @router.get(
        "/v1/policy", response_model=PolicyResource, summary="The active slashing policy and its hash"
    )
    def get_policy() -> dict[str, Any]:
        return body

    return router
