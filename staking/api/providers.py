"""Provider-facing endpoints (SPEC section 4): where a provider stands, the provider list, a
provider's slashes and indexed history, and all slashes by state.

Everything is read from the SQL projection (`staking.readmodel`) on one consistent snapshot per
request; no endpoint here talks to the chain. Errors are problem+json (`staking.api.problems`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine

from staking.api.models import (
    ClassName,
    EventTypeName,
    LiveReason,
    PathName,
    SeverityName,
    SlashAppeal,
    SlashStateName,
    StageName,
)
from staking.api.pg_lookups import AsyncStandingReader
from staking.api.problems import ProblemException, problem_responses
from staking.domain.ids import ADDRESS_PATTERN, InvalidAddress, normalize_address
from staking.domain.vocabulary import ActionKind, Level, ProviderStatus, VerdictStatus
from staking.policy import Policy
from staking.readmodel import (
    list_providers,
    list_slashes,
    provider_events,
    read_provider_standing,
    snapshot,
)

EXAMPLE_ADDRESS = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
AMOUNT = "Decimal string of token base units (18 decimals)"


# ------------------------------------------------------------------------------------------ models


class Stake(BaseModel):
    active: str = Field(description=f"Bonded stake (stakeOf). {AMOUNT}")
    unbonding: str = Field(description=f"Unbonding bucket, still slashable (unbondingOf). {AMOUNT}")
    withdrawable: str = Field(
        description="What withdraw() would pay now (withdrawableOf): 0 while a slash is pending or "
        "before the unbonding bucket matures"
    )
    min_required: str | None = Field(
        description="minStakeOf: the class's base minimum + per-GPU minimum x declared GPUs "
        "(null only before the class parameters are indexed)"
    )
    meets_minimum: bool | None
    unbonding_end: int | None = Field(description="Unix time the unbonding bucket matures")


class Jail(BaseModel):
    until: int | None = Field(description="Unix time the jail ends; null: until recovery")
    reason: str
    verdict_id: str | None = Field(description="The verdict that jailed the provider")
    event_type: EventTypeName | None
    since: int | None = Field(description="Unix time of the (latest) Jailed event")


class Recovery(BaseModel):
    path: PathName | None = Field(
        description="The recovery path open on chain; for a timed jail the path the policy "
        "recommends for the jailing verdict (guidance only)"
    )
    stage: StageName | None = Field(description="The on-chain stage; null when no path is open on chain")
    next_step: str = Field(
        description="What happens next and who acts; with a pending slash still open to appeal, how "
        "and until when to appeal it comes first"
    )


class Probation(BaseModel):
    reinstated_at: int
    until_epoch: int = Field(description="First epoch with full reward weight again")


class Slash(BaseModel):
    id: str = Field(description="The slash id on chain = the verdict id")
    provider: str
    state: SlashStateName
    bps: int
    amount: str = Field(description=f"Proposed amount; the executed amount once executed. {AMOUNT}")
    from_active: str | None
    from_unbonding: str | None
    event_type: EventTypeName
    severity: SeverityName
    evidence_hash: str
    proposed_at: int
    executable_at: int = Field(description="End of the veto window: executeSlash() is possible from then")
    proposed_block: int
    proposed_tx: str
    resolved_block: int | None
    resolved_tx: str | None = Field(description="The veto or execution transaction")
    veto_reason: str | None
    vetoer: str | None
    appeal: SlashAppeal | None = Field(description="The provider's appeal of the slash (null: none)")
    verdict_id: str
    verdict_status: VerdictStatus | None = Field(
        description="Status of the verdict in this service (null: it did not come through this intake)"
    )
    verdict: str | None = Field(description="Link to the verdict resource, when this service has it")


class PendingSlash(Slash):
    signers: list[str] = Field(
        description="The detectors whose signatures of the verdict this service holds, in the order "
        "they signed (empty: the slash did not come through this intake)"
    )
    appeal_until: int | None = Field(
        description="While the slash has no appeal: the end of its veto window, before which the "
        "provider may appeal it (swarm-staking slash appeal ID --evidence FILE); null once appealed"
    )


class Held(BaseModel):
    kind: ActionKind
    verdict_id: str
    incident_id: int | None = Field(description="The open incident that holds it")
    note: str | None


class Strikes(BaseModel):
    in_window: int = Field(description="Decided offences detected within the policy's rolling window")
    level: Level = Field(
        description="Level of the most recent of them (the next offence is number in_window + 1 of "
        "its event type's ladder)"
    )
    window_days: int
    last_detected_at: int | None


class ComputedRewards(BaseModel):
    epoch: int
    eligible: bool
    reasons: list[str] = Field(description="Why not eligible, or notes such as the probation weight")
    weight: str | None = Field(description="Reward weight in the epoch's Merkle tree (a decimal string)")


class Rewards(BaseModel):
    epoch: int | None = Field(description="The current reward epoch")
    eligible: bool
    reasons: list[LiveReason] = Field(
        description="Why not eligible; `probation` (still eligible) reduces the weight"
    )
    weight: str | None = Field(description="null: the current epoch's weight is computed when it ends")
    last_computed: ComputedRewards | None = Field(
        description="The rewards job's result for the most recent finished epoch (null before any)"
    )


class InFlight(BaseModel):
    kind: ActionKind = Field(
        description="The service's own action (as in the verdict resource) whose transaction is on chain"
    )
    verdict_id: str = Field(description="The verdict the action carries out")
    tx_hash: str
    block: int = Field(description="The block it was mined in: after `as_of.block`, so not yet reflected")


class AsOf(BaseModel):
    block: int | None = Field(description="The indexer's checkpoint this answer reflects")
    block_hash: str | None
    timestamp: int | None
    lag_blocks: int | None = Field(description="Chain head minus the checkpoint (null: head unknown)")


class ProviderStanding(BaseModel):
    address: str
    class_: ClassName | None = Field(alias="class")
    gpus: int
    metadata_uri: str | None
    status: ProviderStatus
    status_reason: str
    stake: Stake
    jail: Jail | None
    recovery: Recovery | None
    probation: Probation | None
    pending_slashes: list[PendingSlash]
    slashes: list[Slash] = Field(description="Executed and vetoed slashes, newest first")
    strikes: Strikes
    rewards: Rewards
    in_flight: list[InFlight] = Field(
        description="This service's actions against the provider mined after the indexed block "
        "(`as_of.block`): on chain, not yet in `status` and the rest; empty once indexed"
    )
    held: list[Held] = Field(
        description="The service's actions against the provider that an open incident holds (SPEC section 8)"
    )
    as_of: AsOf

    model_config = {"populate_by_name": True}


class ProviderSummary(BaseModel):
    address: str
    class_: ClassName = Field(alias="class")
    gpus: int
    status: ProviderStatus
    status_reason: str
    stake: Stake
    jailed_until: int | None
    pending_slashes: int
    link: str

    model_config = {"populate_by_name": True}


class ProviderPage(BaseModel):
    items: list[ProviderSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last")
    as_of: AsOf


class SlashPage(BaseModel):
    items: list[Slash]
    next_cursor: str | None
    as_of: AsOf


class ProviderEvent(BaseModel):
    block: int
    log_index: int
    block_hash: str
    tx_hash: str
    time: int
    name: str = Field(description="SwarmStaking event name")
    args: dict[str, Any] = Field(description="Event arguments; amounts as decimal strings")


class EventPage(BaseModel):
    items: list[ProviderEvent]
    next_cursor: str | None
    as_of: AsOf


# ------------------------------------------------------------------------------------------ router

AddressParam = Annotated[
    str,
    Path(
        pattern=ADDRESS_PATTERN,
        description="Lower-case or EIP-55 checksummed address",
        examples=[EXAMPLE_ADDRESS],
    ),
]
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=300, description="`next_cursor` of the previous page")]
SlashStateParam = Annotated[SlashStateName | None, Query()]


def _invalid(field: str, where: str, exc: ValueError) -> ProblemException:
    error = {"field": field, "in": where, "message": str(exc)}
    return ProblemException(422, "invalid-request", f"{field}: {exc}", errors=[error])


def _address(value: str) -> str:
    try:
        return normalize_address(value)
    except InvalidAddress as exc:
        raise _invalid("address", "path", exc) from None


def providers_router(
    engine: Engine,
    policy: Policy,
    clock: Callable[[], float],
    head: Callable[[], int | None] = lambda: None,
) -> APIRouter:
    """The provider endpoints over `engine`. `clock`: unix seconds; `head`: a chain head known
    without a request to the node (None: the head the indexer stored with its last batch)."""
    router = APIRouter(tags=["providers"])
    lookups = AsyncStandingReader(engine) if engine.dialect.name == "postgresql" else None

    def read(query: Callable[[Connection], dict[str, Any]]) -> dict[str, Any]:
        """`query` on one consistent snapshot; a cursor it refuses is a 422."""
        with snapshot(engine) as conn:
            try:
                return query(conn)
            except ValueError as exc:
                raise _invalid("cursor", "query", exc) from None

    def route(path: str, model: type[BaseModel], summary: str, **kw: Any) -> Callable[[Any], Any]:
        return router.get(path, response_model=model, summary=summary, responses=problem_responses(422), **kw)

    @route(
        "/v1/providers/{address}",
        ProviderStanding,
        "Where a provider stands",
        description=(
            "Status, stake against the minimum, jail, recovery stage and the next step, pending and "
            "past slashes with their verdicts, strikes in the policy window, reward eligibility, and "
            "the indexed block this answer reflects. An unknown address answers 200 with status "
            "`unregistered`; a malformed one 422."
        ),
    )
    async def get_provider(address: AddressParam) -> Response:
        # The hot path (providers polling where they stand). On SQLite a handful of in-process
        # indexed lookups take well under a millisecond and run on the event loop: a hand-off to a
        # worker thread cost more than the read itself. On PostgreSQL the document is one
        # statement on an asynchronous connection (`pg_lookups`). The document is built to the
        # ProviderStanding schema (checked by the tests and by schemathesis) and sent without a
        # second validation.
        addr = _address(address)
        if lookups is not None:
            doc = await lookups.standing(addr, int(clock()), policy, head())
        else:
            doc = read_provider_standing(engine, addr, int(clock()), policy, head())
        return Response(json.dumps(doc, separators=(",", ":")), media_type="application/json")

    @route("/v1/providers", ProviderPage, "Registered providers by address, optionally by status")
    def get_providers(
        status: Annotated[ProviderStatus | None, Query()] = None, limit: Limit = 50, cursor: Cursor = None
    ) -> dict[str, Any]:
        name = None if status is None else status.value
        return read(lambda conn: list_providers(conn, name, limit, cursor, now=int(clock())))

    @route("/v1/providers/{address}/slashes", SlashPage, "A provider's slashes, newest first")
    def get_provider_slashes(
        address: AddressParam, state: SlashStateParam = None, limit: Limit = 50, cursor: Cursor = None
    ) -> dict[str, Any]:
        addr = _address(address)
        return read(lambda conn: list_slashes(conn, state, limit, cursor, provider=addr, now=int(clock())))

    @route("/v1/providers/{address}/events", EventPage, "A provider's indexed history, newest first")
    def get_provider_events(
        address: AddressParam, limit: Limit = 50, cursor: Cursor = None
    ) -> dict[str, Any]:
        addr = _address(address)
        return read(lambda conn: provider_events(conn, addr, limit, cursor))

    @route("/v1/slashes", SlashPage, "Slashes by state, newest first", tags=["slashes"])
    def get_slashes(
        state: SlashStateParam = None, limit: Limit = 50, cursor: Cursor = None
    ) -> dict[str, Any]:
        return read(lambda conn: list_slashes(conn, state, limit, cursor, now=int(clock())))

    return router
