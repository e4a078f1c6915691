"""The API's protections against its own clients (threat model: SECURITY.md).

- `admin_only`: a route dependency requiring `Authorization: Bearer <SWARM_ADMIN_TOKEN>` (compared
  in constant time) on the sensitive reads, `/metrics` and `/v1/investigations`, once a token is
  configured; 401 problem+json with `WWW-Authenticate: Bearer` otherwise.
- `RequestLimits`: ASGI middleware refusing a body over its route's limit with 413 before reading
  it all (the declared `Content-Length` first, then the bytes as they stream in, for chunked
  bodies), JSON nested deeper than the limit with 422 (`json.loads` would recurse into it), and,
  when configured, too many intake requests from one client address with 429.
- CORS: none unless `SWARM_CORS_ORIGINS` names the origins allowed (`install_cors`).
- `document_security`: the OpenAPI document says all of this.

The per-detector rate limit runs in the intake itself, after the signature is recovered
(`staking.intake.ratelimit`); its `RateLimited` becomes 429 here (`install_rate_limit_handler`).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from staking.api.problems import PROBLEM_TYPES, ProblemException, problem, problem_body, problem_response
from staking.intake.ratelimit import Limit, RateLimited, TokenBuckets

ADMIN_SCHEME = "adminToken"
ADMIN_REALM = "swarm-staking-admin"
ADMIN_MARK = "x-swarm-admin-only"
INTAKE_PATHS = frozenset({"/v1/verdicts", "/v1/performance"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

PROBLEM_TYPES.update(
    {
        "admin-token-required": (
            401,
            "Admin token required",
            "This endpoint serves operational or security-team data and this deployment protects "
            "it with a bearer token: send `Authorization: Bearer <SWARM_ADMIN_TOKEN>`.",
        ),
        "rate-limited": (
            429,
            "Too many requests",
            "The detector (or client address) sent more requests than its rate limit allows. "
            "Nothing was stored; retry after the seconds in Retry-After.",
        ),
        "json-too-deep": (
            422,
            "JSON nested too deeply",
            "The body nests arrays or objects deeper than the limit given in `detail`; no request "
            "this API accepts comes close. Nothing was stored.",
        ),
    }
)


@dataclass(frozen=True)
class SecurityOptions:
    """What `create_app` protects and how; the defaults are the settings' defaults, minus the
    rate limits (None: unlimited) that `from_settings` adds."""

    admin_token: SecretStr | None = None
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = 16 * 1024  # every route but the ones in `body_limits`
    body_limits: dict[str, int] = field(default_factory=lambda: {"/v1/performance": 256 * 1024})
    max_json_depth: int = 32
    signer_limit: Limit | None = None  # per detector, after signature recovery
    ip_limit: Limit | None = None  # per client address, before any signature work

    @classmethod
    def from_settings(cls, settings: Any) -> SecurityOptions:
        return cls(
            admin_token=settings.admin_token,
            cors_origins=tuple(settings.cors_origin_list),
            max_body_bytes=settings.max_verdict_body_bytes,
            body_limits={"/v1/performance": settings.max_performance_body_bytes},
            max_json_depth=settings.max_json_depth,
            signer_limit=Limit(settings.intake_rate_per_s, settings.intake_burst),
            ip_limit=Limit(settings.intake_ip_rate_per_s, settings.intake_ip_burst),
        )

    def body_limit(self, path: str) -> int:
        return self.body_limits.get(path, self.max_body_bytes)


# ------------------------------------------------------------------------------------- admin token
def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None


def admin_only(request: Request) -> None:
    """Route dependency: with an admin token configured (`app.state.security.admin_token`), the
    request must carry it as a bearer token. Compared in constant time; never logged."""
    options: SecurityOptions | None = getattr(request.app.state, "security", None)
    token = options.admin_token if options is not None else None
    if token is None:
        return
    given = _bearer(request)
    expected = token.get_secret_value().encode("utf-8")
    # The header arrived as bytes Starlette decoded as latin-1: encode back to the same bytes.
    if given is not None and hmac.compare_digest(given.encode("latin-1", "replace"), expected):
        return
    challenge = f'Bearer realm="{ADMIN_REALM}"'
    if given is not None:
        challenge += ', error="invalid_token"'
    detail = (
        "this endpoint needs the admin bearer token"
        if given is None
        else "the bearer token is not this deployment's admin token"
    )
    raise ProblemException(401, "admin-token-required", detail, {"WWW-Authenticate": challenge})


def admin_route() -> dict[str, Any]:
    """Keyword arguments for a route decorator making the route admin-only (the dependency, and a
    marker `document_security` turns into the OpenAPI `security` requirement)."""
    return {"dependencies": [Depends(admin_only)], "openapi_extra": {ADMIN_MARK: True}}


# ------------------------------------------------------------------------------- rate limit (429)
def rate_limited(exc: RateLimited) -> JSONResponse:
    """429 with `Retry-After` (and the same seconds as `retry_after` in the body)."""
    seconds = exc.retry_after_seconds
    body = problem_body(429, "rate-limited", exc.detail, retry_after=seconds)
    return problem_response(body, {"Retry-After": str(seconds)})


def install_rate_limit_handler(app: FastAPI) -> None:
    async def on_rate_limited(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RateLimited)
        return rate_limited(exc)

    app.add_exception_handler(RateLimited, on_rate_limited)


def signer_limiter(options: SecurityOptions) -> TokenBuckets | None:
    limit = options.signer_limit
    return TokenBuckets(limit, "detector") if limit is not None and limit.enabled else None


# --------------------------------------------------------------------------- body size and depth
_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def json_depth_exceeds(raw: bytes, limit: int) -> bool:
    """Whether `raw` nests arrays/objects more than `limit` deep (brackets inside strings do not
    count). Linear and iterative, so a hostile body cannot exhaust the stack here."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False  # cannot be deeper than the number of openers
    depth = 0
    for m in _JSON_TOKENS.finditer(raw):
        token = m.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif token in (b"]", b"}"):
            depth -= 1
    return False


class _TooLarge(Exception):
    pass


class RequestLimits:
    """ASGI middleware: body size (413) and JSON depth (422) limits per route, and the optional
    per-client-address limit on the intake endpoints (429). A body within the limits is read here
    and handed on unchanged."""

    def __init__(self, app: ASGIApp, options: SecurityOptions) -> None:
        self.app = app
        self.options = options
        limit = options.ip_limit
        self.ip_buckets = TokenBuckets(limit, "client") if limit is not None and limit.enabled else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if self.ip_buckets is not None and path in INTAKE_PATHS:
            client = scope.get("client")
            try:
                self.ip_buckets.take(client[0] if client else "unknown")
            except RateLimited as exc:
                await rate_limited(exc)(scope, receive, send)
                return

        limit = self.options.body_limit(path)
        too_large = problem(413, "body-too-large", f"the body exceeds {limit} bytes", {"Connection": "close"})
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            if not declared.isdigit():
                await problem(400, None, "Content-Length is not a number")(scope, receive, send)
            else:
                await too_large(scope, receive, send)
            return
        try:
            body = await _read(receive, limit)
        except _TooLarge:
            await too_large(scope, receive, send)
            return
        depth = self.options.max_json_depth
        if json_depth_exceeds(body, depth):
            detail = f"the JSON body nests deeper than {depth} levels"
            await problem(422, "json-too-deep", detail)(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1")).strip()
    return None


async def _read(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the disconnect, as the server would

    return replay


# -------------------------------------------------------------------------------------------- CORS
def install_cors(app: FastAPI, origins: Iterable[str]) -> None:
    """Cross-origin access for `origins` only (none: no CORS headers, preflights refused)."""
    allowed = list(origins)
    if not allowed:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=allowed,
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
        expose_headers=["X-Request-ID", "Retry-After", "Location", "Content-Location"],
        allow_credentials=False,
        max_age=600,
    )


# ----------------------------------------------------------------------------------------- OpenAPI
def document_security(app: FastAPI, options: SecurityOptions) -> None:
    """The OpenAPI document names the bearer scheme and, on the admin routes, requires it when a
    token is configured (401 documented) or makes it optional when none is; the intake routes
    document 429."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        enforced = options.admin_token is not None
        schemes[ADMIN_SCHEME] = {
            "type": "http",
            "scheme": "bearer",
            "description": "SWARM_ADMIN_TOKEN, for /metrics and /v1/investigations"
            + ("" if enforced else " (not configured on this deployment: those are open)"),
        }
        problem_ref = {"$ref": "#/components/schemas/Problem"}
        for path, item in schema.get("paths", {}).items():
            for method, operation in item.items():
                responses = operation.setdefault("responses", {})
                if operation.pop(ADMIN_MARK, False):
                    operation["security"] = [{ADMIN_SCHEME: []}] if enforced else [{ADMIN_SCHEME: []}, {}]
                    if enforced:
                        responses["401"] = _problem_doc("Missing or wrong admin bearer token", problem_ref)
                if path in INTAKE_PATHS and method == "post":
                    responses["429"] = _problem_doc(
                        "Rate limit exceeded: nothing stored; retry after Retry-After seconds",
                        problem_ref,
                        {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}},
                    )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _problem_doc(
    description: str, ref: dict[str, str], headers: dict[str, Any] | None = None
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "description": description,
        "content": {"application/problem+json": {"schema": ref}},
    }
    if headers:
        doc["headers"] = headers
    return doc
