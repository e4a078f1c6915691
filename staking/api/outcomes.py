"""How the intakes' outcomes (`staking.intake.results`) are answered over HTTP: the one place that
knows their status codes, problem `type` slugs and headers (SPEC section 3; problem documents are
`staking.api.problems`'). Verdicts and performance batches share the rules and differ only in
the names of their problems and in their links (`Intake`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse, Response

from staking.api.problems import RETRY_AFTER_S, problem_body, problem_response
from staking.intake.results import (
    Accepted,
    Conflict,
    ConflictKind,
    Outcome,
    Rejected,
    Rejection,
    Replay,
    Unavailability,
    Unavailable,
)

SIGNED = {"WWW-Authenticate": 'EIP712 realm="SwarmRiskFramework"'}  # 401: sign as EIP-712 says
RETRY = {"Retry-After": str(RETRY_AFTER_S)}  # 503: the dependency should be back shortly

UNAVAILABLE_SLUGS = {
    Unavailability.DETECTOR_CHECK: "detector-check-unavailable",
    Unavailability.EPOCH_CLOCK: "epoch-clock-unknown",
}


@dataclass(frozen=True)
class Intake:
    """What one intake endpoint calls its documents and problems."""

    noun: str  # in titles: "Invalid <noun> signature"
    malformed: str  # problem slug of a MALFORMED rejection
    id_reused: str  # problem slug of an ID_REUSED conflict
    collection: str | None = None  # `/v1/<collection>/{id}` links the resource (Location headers)

    def link(self, resource_id: str) -> str | None:
        return None if self.collection is None else f"/v1/{self.collection}/{resource_id}"


VERDICTS = Intake("verdict", "invalid-verdict", "verdict-conflict", collection="verdicts")
PERFORMANCE_BATCHES = Intake("performance batch", "invalid-performance-batch", "performance-batch-conflict")


def intake_response(outcome: Outcome, intake: Intake) -> Response:
    """202 with the new resource, 200 for a replay (with `Location` / `Content-Location` when the
    resource has its own URL), else the problem document of the refusal."""
    if isinstance(outcome, Accepted | Replay):
        link = intake.link(outcome.resource["id"])
        new = isinstance(outcome, Accepted)
        headers = {} if link is None else {"Location" if new else "Content-Location": link}
        return JSONResponse(outcome.resource, status_code=202 if new else 200, headers=headers)
    body, headers = intake_problem(outcome, intake)
    return problem_response(body, headers)


def intake_problem(
    outcome: Rejected | Conflict | Unavailable, intake: Intake
) -> tuple[dict[str, Any], dict[str, str]]:
    """The problem document and headers of a refused submission."""
    if isinstance(outcome, Rejected):
        if outcome.reason is Rejection.MALFORMED:
            return problem_body(422, intake.malformed, outcome.detail, errors=outcome.field_errors), {}
        if outcome.reason is Rejection.INVALID_SIGNATURE:
            title = f"Invalid {intake.noun} signature"
            return problem_body(401, "invalid-signature", outcome.detail, title), SIGNED
        return problem_body(401, "signer-not-detector", outcome.detail, signer=outcome.signer), SIGNED
    if isinstance(outcome, Conflict):
        if outcome.kind is ConflictKind.EPOCH_CLOSED:
            epoch = outcome.epoch
            return problem_body(
                409, "epoch-closed", outcome.detail, epoch=epoch, href=f"/v1/epochs/{epoch}"
            ), {}
        link = intake.link(outcome.id)
        links = {} if link is None else {intake.noun: link}
        return problem_body(409, intake.id_reused, outcome.detail, **links), {}
    return problem_body(503, UNAVAILABLE_SLUGS[outcome.reason], outcome.detail), RETRY
