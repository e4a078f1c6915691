"""`GET /v1/stream` (SPEC section 10): server-sent events of standing changes, read from the
`stream_events` table (`staking.db.stream`), which the indexer and the intake append to in the
transactions that make the changes. Every replica reads the same table, so a subscriber resumes
on any of them: the `id:` of each event is its row id, and `Last-Event-ID` (sent by a browser's
EventSource on reconnect) or `?after=` returns every later event, none twice, none skipped.

A new subscriber without either starts at the newest event (what happens from now on). The poll
interval bounds the delay from commit to delivery; a comment line every `KEEPALIVE` seconds keeps
proxies from closing an idle stream and tells the server when the client has gone."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine, select
from starlette.concurrency import run_in_threadpool

from staking.api.problems import ProblemException, problem_responses
from staking.db.stream import KINDS, newest_id, stream_events
from staking.domain.ids import ADDRESS_PATTERN, normalize_address

POLL_SECONDS = 0.25
KEEPALIVE = 15.0
BATCH = 500
RETRY_MS = 2_000  # what the browser waits before reconnecting


def _invalid(field: str, where: str, message: str) -> ProblemException:
    error = {"field": field, "in": where, "message": message}
    return ProblemException(422, "invalid-request", f"{field}: {message}", errors=[error])


def _kinds(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    kinds = tuple(k.strip() for k in value.split(",") if k.strip())
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise _invalid("kinds", "query", f"unknown kind(s) {unknown}; known: {', '.join(KINDS)}")
    return kinds


def _resume(header: str | None, after: int | None) -> int | None:
    """Where to resume. The header wins: a browser's EventSource reconnects to the URL it opened
    (its `?after=` the first position) and sends the id of the last event it got, the later one."""
    if header is None:
        return after
    if not header.isdigit():
        raise _invalid("Last-Event-ID", "header", "not an id this stream sent (a non-negative integer)")
    return int(header)


def sse(row: Any) -> str:
    data = {
        "id": int(row.id),
        "kind": row.kind,
        "provider": row.provider,
        "block": row.block_number,
        **json.loads(row.data),
    }
    return f"id: {row.id}\nevent: {row.kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def stream_router(engine: Engine) -> APIRouter:
    router = APIRouter(tags=["stream"])
    s = stream_events.c

    def newest() -> int:
        with engine.connect() as conn:
            return newest_id(conn)

    def fetch(after: int, provider: str | None, kinds: tuple[str, ...] | None) -> list[Any]:
        query = select(stream_events).where(s.id > after).order_by(s.id).limit(BATCH)
        if provider is not None:
            query = query.where(s.provider == provider)
        if kinds is not None:
            query = query.where(s.kind.in_(kinds))
        with engine.connect() as conn:
            return list(conn.execute(query))

    @router.get(
        "/v1/stream",
        summary="Live standing changes (server-sent events)",
        description=(
            "Server-sent events (`text/event-stream`): `jailed`, `unjailed`, `slash_proposed`, "
            "`slash_vetoed`, `slash_executed`, `appeal`, `epoch_published` (from indexed chain "
            "events, with the block), `incident` (opened, released, dismissed) and `reorg` (blocks above "
            "`ancestor` were orphaned: drop what you saw above it). Each event's `id` is its resume "
            "id: reconnect with `Last-Event-ID` (or `?after=`) to get every later event exactly "
            "once, from any replica. Filters: `provider`, `kinds` (comma-separated)."
        ),
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}, **problem_responses(422)},
    )
    async def get_stream(
        request: Request,
        provider: Annotated[
            str | None, Query(pattern=ADDRESS_PATTERN, description="Only this provider's")
        ] = None,
        kinds: Annotated[str | None, Query(description=f"Comma-separated, of: {', '.join(KINDS)}")] = None,
        after: Annotated[
            int | None,
            Query(ge=0, description="Resume after this id (a Last-Event-ID header, sent on reconnect, wins)"),
        ] = None,
        last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    ) -> StreamingResponse:
        wanted = _kinds(kinds)
        who = normalize_address(provider) if provider is not None else None
        resume = _resume(last_event_id, after)
        start = resume if resume is not None else await run_in_threadpool(newest)

        async def events() -> AsyncIterator[str]:
            cursor, quiet_since = start, time.monotonic()
            yield f"retry: {RETRY_MS}\n: resuming after {cursor}\n\n"
            while not await request.is_disconnected():
                rows = await run_in_threadpool(fetch, cursor, who, wanted)
                for row in rows:
                    yield sse(row)
                    cursor = int(row.id)
                if rows:
                    quiet_since = time.monotonic()
                    continue
                if time.monotonic() - quiet_since >= KEEPALIVE:
                    yield ": keepalive\n\n"
                    quiet_since = time.monotonic()
                await asyncio.sleep(POLL_SECONDS)

        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    return router
