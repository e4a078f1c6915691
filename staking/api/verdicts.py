"""`POST /v1/verdicts` (a detector's signed verdict in, or another detector's co-signature of it)
and `GET /v1/verdicts/{id}` (the verdict, its signers, its decision and its actions) — SPEC
sections 3 and 8. The intake (`staking.intake.service`) decides and stores; this module reads the
body and answers (`staking.api.outcomes`)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from staking.api.middleware import MAX_BODY, read_body
from staking.api.models import EXAMPLE_ID, EXAMPLE_RESOURCE, VerdictResource, VerdictSubmission
from staking.api.outcomes import VERDICTS, intake_response
from staking.api.problems import ProblemException, problem_responses
from staking.api.security import SecurityOptions
from staking.domain.ids import ID_PATTERN
from staking.intake.service import IntakeService

PROBLEM_EXAMPLES: dict[int, dict[str, Any]] = {
    401: {
        "type": "/problems/signer-not-detector",
        "title": "Signer is not a detector",
        "status": 401,
        "detail": "the signature recovers to 0x70997970C51812dc3A010C7d01b50e0d17dc79C8, "
        "which does not hold DETECTOR_ROLE (...)",
        "signer": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    },
    409: {
        "type": "/problems/verdict-conflict",
        "title": "Verdict id already used",
        "status": 409,
        "detail": f"verdict {EXAMPLE_ID} was already submitted with different content; ...",
        "verdict": f"/v1/verdicts/{EXAMPLE_ID}",
    },
    413: {
        "type": "/problems/body-too-large",
        "title": "Request body too large",
        "status": 413,
        "detail": f"the body exceeds {MAX_BODY} bytes",
    },
    422: {
        "type": "/problems/invalid-verdict",
        "title": "Malformed verdict",
        "status": 422,
        "detail": "1 field(s) are invalid: event_type: unknown EventType 'meteor_strike'; ...",
        "errors": [
            {"field": "event_type", "message": "unknown EventType 'meteor_strike'; expected one of: ..."}
        ],
    },
    503: {
        "type": "/problems/detector-check-unavailable",
        "title": "Cannot verify the signer now",
        "status": 503,
        "detail": "0x... is not among the indexed detectors and the chain could not be asked; retry shortly",
    },
}


def verdicts_router(intake: IntakeService) -> APIRouter:
    router = APIRouter(tags=["verdicts"])

    @router.post(
        "/v1/verdicts",
        status_code=202,
        response_model=None,
        summary="Submit a signed verdict",
        description=(
            "Authenticates the detector's EIP-712 signature, decides the consequences with the "
            "slashing policy and records the verdict with its action plan. Idempotent by `id`: the "
            "same verdict again answers 200 with the same resource; the same signed content signed "
            "by another detector is a co-signature (200, the resource lists it in `signers`; SPEC "
            "section 8); other content under a used id is 409. A detector revoked by governance "
            "(`swarm-staking detector revoke`) is refused at once (401), before its on-chain "
            "revocation is mined. Nothing is stored for a rejected verdict. Bodies over the configured limit "
            "(SWARM_MAX_VERDICT_BODY_BYTES, default 16 KiB) are refused (413), JSON nested deeper "
            "than SWARM_MAX_JSON_DEPTH (32) is 422; a detector over its rate limit gets 429."
        ),
        responses={
            202: {
                "model": VerdictResource,
                "description": "New verdict accepted; its actions are pending (see Location)",
                "content": {"application/json": {"example": EXAMPLE_RESOURCE}},
            },
            200: {
                "model": VerdictResource,
                "description": "This verdict was accepted before: the same resource (a replay), "
                "or the same signed content from another detector, added to `signers` (a co-signature)",
                "content": {"application/json": {"example": EXAMPLE_RESOURCE}},
            },
            **problem_responses(401, 409, 413, 422, 503, examples=PROBLEM_EXAMPLES),
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": VerdictSubmission.model_json_schema()}},
            }
        },
    )
    async def submit_verdict(request: Request) -> Response:
        options: SecurityOptions | None = getattr(request.app.state, "security", None)
        raw = await read_body(request, options.body_limit("/v1/verdicts") if options else MAX_BODY)
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            error = {"field": "body", "message": f"not valid JSON ({exc})"}
            raise ProblemException(
                422, "invalid-verdict", "the body is not a JSON document", errors=[error]
            ) from None
        return intake_response(await run_in_threadpool(intake.submit, body), VERDICTS)

    @router.get(
        "/v1/verdicts/{verdict_id}",
        response_model=VerdictResource,
        summary="A verdict, its decision and the state of its actions",
        responses=problem_responses(404, 422),
    )
    def get_verdict(
        verdict_id: Annotated[str, Path(pattern=ID_PATTERN, examples=[EXAMPLE_ID])],
    ) -> dict[str, Any]:
        resource = intake.get(verdict_id)
        if resource is None:
            raise ProblemException(404, None, f"no verdict {verdict_id.lower()}")
        return resource

    return router
