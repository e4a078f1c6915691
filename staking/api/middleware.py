"""What wraps every request: its id, its access log line and its latency (`RequestContext`), and
reading a body under a size limit (`read_body`). The limits applied before a route runs (413,
JSON depth, per-address rate limits) and CORS are `staking.api.security`'s.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from fastapi import Request
from prometheus_client import Histogram
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from staking.api.problems import ProblemException
from staking.logs import request_id

MAX_BODY = 16 * 1024  # default limit; a verdict is < 3 KiB; anything near this is not one

access_log = logging.getLogger("staking.api.access")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=@-]{1,128}$")  # anything else is replaced, not logged
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})  # probes and scrapes log at DEBUG


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The raw body, refusing (413) anything over `limit` bytes before reading it all."""
    too_large = ProblemException(413, "body-too-large", f"the body exceeds {limit} bytes")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


class RequestContext:
    """ASGI middleware: the request id (the caller's `X-Request-ID` if it is a sane token, else a
    new one) in the `request_id` contextvar for the log lines of the request and in the response
    header; the request's latency into `latency` by route template; one access log line."""

    def __init__(self, app: ASGIApp, latency: Histogram) -> None:
        self.app = app
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        rid = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        # Not reset afterwards: each request runs in its own task (its own context), and the 500
        # handler, which runs after this middleware has unwound, must still see the id.
        request_id.set(rid)
        started = time.perf_counter()
        status = 500  # unless a response starts: an exception escaped to the 500 handler

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.latency.labels(scope["method"], route, str(status)).observe(elapsed)
            access_log.log(
                logging.DEBUG if route in QUIET_ROUTES else logging.INFO,
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
