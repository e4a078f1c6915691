"""RFC 9457 problem details: every error the API answers is `application/problem+json`.

`install_problem_handlers(app)` routes FastAPI's and Starlette's own errors (unknown route 404,
405, request validation 422, unhandled exceptions 500) through the same shape as the service's
domain problems, and `problem_openapi(app)` makes the OpenAPI document say so. Each problem type
is documented at its `type` URI (`problems_router`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from staking.logs import request_id

log = logging.getLogger("staking.api")

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "/problems/"  # relative type URIs; each is documented at GET /problems/{slug}
RETRY_AFTER_S = 5  # Retry-After of a 503: the failing dependency should be back shortly

# slug -> (status, title, what it means and what to do). Each `type` URI is `/problems/<slug>`,
# relative to the API's base URL, and GET on it returns this description.
PROBLEM_TYPES: dict[str, tuple[int, str, str]] = {
    "invalid-verdict": (
        422,
        "Malformed verdict",
        "The verdict body is not what SPEC section 3 describes: `errors` names every bad field "
        "(unknown enum, bad hex, bad EIP-55 checksum, detected_at in the future or older than the "
        "contract's maxVerdictAge, unknown or missing fields). Nothing was stored.",
    ),
    "invalid-request": (
        422,
        "Invalid request",
        "A path, query or body parameter is malformed; `errors` names each one.",
    ),
    "invalid-signature": (
        401,
        "Invalid verdict signature",
        "The signature cannot be recovered, or is in a form SwarmStaking refuses (v must be 27/28, "
        "s in the lower half). Sign the EIP-712 Verdict with the domain given in `detail`.",
    ),
    "signer-not-detector": (
        401,
        "Signer is not a detector",
        "The signature recovers to an account without DETECTOR_ROLE on SwarmStaking. A signature "
        "over another chain id or verifying contract recovers to an unrelated address and lands here too.",
    ),
    "verdict-conflict": (
        409,
        "Verdict id already used",
        "A verdict with this id and different content was accepted before. Verdict ids are also "
        "on-chain slash ids and name exactly one verdict: issue a new id for a changed verdict.",
    ),
    "detector-check-unavailable": (
        503,
        "Cannot verify the signer now",
        "The signer is not among the indexed detectors and the chain could not be asked whether it "
        "holds DETECTOR_ROLE. Retry after the interval in Retry-After.",
    ),
    "body-too-large": (
        413,
        "Request body too large",
        "The request body exceeds the limit given in `detail`.",
    ),
    "not-ready": (
        503,
        "Service not ready",
        "A dependency of the service is failing: `detail` names each (database unreachable, chain "
        "unreachable, indexer lag above the limit) and `checks` gives every check's result. Load "
        "balancers should route elsewhere until GET /readyz answers 200; retry after Retry-After.",
    ),
}


class FieldError(BaseModel):
    field: str = Field(description="The offending field (`body` for the body as a whole)")
    message: str
    location: str | None = Field(
        default=None, alias="in", description="path, query or body, for request validation errors"
    )

    model_config = ConfigDict(populate_by_name=True)


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(default="about:blank", description="Problem type URI (relative to the API)")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


class ValidationProblem(Problem):
    errors: list[FieldError] = Field(description="Every invalid field, so a client fixes all at once")


def problem_body(
    status: int, slug: str | None, detail: str | None, title: str | None = None, **extensions: Any
) -> dict[str, Any]:
    """A problem document. Without `slug` the type is `about:blank` and the title the HTTP phrase."""
    if slug is None:
        kind, default_title = "about:blank", _phrase(status)
    else:
        kind, default_title = PROBLEM_BASE + slug, PROBLEM_TYPES.get(slug, (status, _phrase(status), ""))[1]
    body: dict[str, Any] = {"type": kind, "title": title or default_title, "status": status}
    if detail is not None:
        body["detail"] = detail
    body.update(extensions)
    return body


def problem_response(
    body: Mapping[str, Any], headers: Mapping[str, str] | None = None, status: int | None = None
) -> JSONResponse:
    return JSONResponse(
        dict(body),
        status_code=status or int(body["status"]),
        headers=dict(headers or {}),
        media_type=PROBLEM_JSON,
    )


def problem(
    status: int,
    slug: str | None,
    detail: str | None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    return problem_response(problem_body(status, slug, detail, **extensions), headers)


class ProblemException(Exception):
    """Raise from an endpoint to answer with a problem document."""

    def __init__(
        self,
        status: int,
        slug: str | None,
        detail: str,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.slug, self.detail = status, slug, detail
        self.headers = dict(headers or {})
        self.extensions = extensions


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def field_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    """FastAPI's validation errors as `{"field", "in", "message"}`."""
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        where = loc[0] if loc and loc[0] in ("path", "query", "header", "cookie", "body") else None
        name = ".".join(loc[1:] if where else loc) or (where or "request")
        out.append({"field": name, "in": where or "request", "message": str(err.get("msg", "invalid"))})
    return out


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemException)
        return problem(exc.status, exc.slug, exc.detail, exc.headers, **exc.extensions)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        detail = exc.detail if isinstance(exc.detail, str) else None
        if detail == _phrase(status) or detail is None:
            if status == 404:
                detail = f"nothing at {request.url.path}"
            elif status == 405:
                detail = f"{request.method} is not allowed on {request.url.path}"
        return problem(status, None, detail, exc.headers)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = field_errors(exc)
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem(422, "invalid-request", detail, errors=errors)

    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        # Runs outside the request middleware (Starlette's outermost layer), so it adds the request
        # id itself: the operator finds the logged traceback by it.
        log.exception("unhandled error", extra={"method": request.method, "path": request.url.path})
        rid = request_id.get()
        detail = "the service failed to handle this request; it has been logged"
        if rid is None:
            return problem(500, None, detail)
        return problem(500, None, detail, {"X-Request-ID": rid}, request_id=rid)

    app.add_exception_handler(ProblemException, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(Exception, on_crash)


def problem_responses(
    *statuses: int, examples: Mapping[int, Mapping[str, Any]] | None = None
) -> dict[int | str, Any]:
    """`responses=` entries documenting problem answers (made `application/problem+json` by
    `problem_openapi`)."""
    out: dict[int | str, Any] = {}
    for status in statuses:
        model = ValidationProblem if status == 422 else Problem
        entry: dict[str, Any] = {"model": model, "description": _phrase(status)}
        if examples and status in examples:
            entry["content"] = {"application/json": {"example": dict(examples[status])}}
        out[status] = entry
    return out


def problem_openapi(app: FastAPI) -> None:
    """Document every 4xx/5xx answer as `application/problem+json` (FastAPI says application/json)."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                for code, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if str(code)[0] in "45" and "application/json" in content:
                        content[PROBLEM_JSON] = content.pop("application/json")
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def problems_router() -> APIRouter:
    """`GET /problems/{slug}`: what a problem type means and what to do (not in the OpenAPI)."""
    router = APIRouter()

    @router.get("/problems/{slug}", include_in_schema=False)
    def problem_type(slug: str) -> dict[str, Any]:
        if slug not in PROBLEM_TYPES:
            raise ProblemException(404, None, f"no problem type {slug!r}")
        status, title, description = PROBLEM_TYPES[slug]
        return {"type": f"{PROBLEM_BASE}{slug}", "status": status, "title": title, "description": description}

    return router
