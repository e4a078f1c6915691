"""Reward endpoints: detectors' performance reports in (`POST /v1/performance`), computed epochs
and Merkle proofs for claims out (`GET /v1/epochs/{n}`, `GET /v1/epochs/{n}/proofs/{address}`).

The intake rules are the verdicts' (see `staking.intake.performance`); the reads come from the
rewards job's tables (see `staking.rewards.summary`). Errors are problem+json.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from staking.api.middleware import read_body
from staking.api.outcomes import PERFORMANCE_BATCHES, intake_response
from staking.api.problems import PROBLEM_TYPES, ProblemException, problem_responses
from staking.api.providers import AMOUNT, EXAMPLE_ADDRESS, AddressParam, _address
from staking.domain.ids import ADDRESS, ID
from staking.domain.reasons import Ineligible
from staking.intake.performance import PerformanceIntake
from staking.intake.results import malformed
from staking.performance import HEX_SIG, MAX_REPORTS
from staking.readmodel import snapshot
from staking.rewards.last_computed import NOT_IN_SET, reasons_of
from staking.rewards.summary import EpochInconsistent, ProofTrees, epoch_document, provider_weight

log = logging.getLogger("staking.api.rewards")

# A report is < 200 bytes even pretty-printed: the largest batch (MAX_REPORTS) fits.
MAX_PERFORMANCE_BODY = 256 * 1024
UINT64_MAX = 2**64 - 1
BATCH_TYPE = (
    "PerformanceBatch(bytes32 id,uint64 epoch,PerformanceReport[] reports)"
    "PerformanceReport(address provider,uint16 uptimeBps,uint32 responseMsP50,uint16 errorRateBps,"
    "uint16 ratingBps)"
)

PROBLEM_TYPES.update(
    {
        "invalid-performance-batch": (
            422,
            "Malformed performance batch",
            "The body is not a performance batch (see POST /v1/performance), or its epoch has not "
            "begun: `errors` names every bad field. Nothing was stored.",
        ),
        "performance-batch-conflict": (
            409,
            "Performance batch id already used",
            "A batch with this id and other reports (or another epoch) was accepted before. Send "
            "changed reports as a new batch: a later batch replaces earlier reports of a provider.",
        ),
        "epoch-closed": (
            409,
            "Epoch already computed",
            "The epoch's reward weights are computed (and may be published on chain): reports for it "
            "can no longer change its rewards. Nothing was stored.",
        ),
        "epoch-clock-unknown": (
            503,
            "Cannot check the epoch now",
            "The indexer has not recorded SwarmStaking's epoch clock yet, so whether the batch's "
            "epoch has begun cannot be judged. Retry after the interval in Retry-After.",
        ),
        "epoch-not-computed": (
            404,
            "Epoch not computed",
            "The rewards job has not computed this epoch's weights (it does so once the epoch ended).",
        ),
        "not-eligible": (
            404,
            "No reward in this epoch",
            "The provider has no weight in the epoch's Merkle tree: `reasons` says why.",
        ),
        "epoch-inconsistent": (
            500,
            "Epoch weights do not match their root",
            "The stored weights of the epoch do not hash to its stored Merkle root; no proof is "
            "served from them. Operators: recompute the epoch.",
        ),
    }
)

# ------------------------------------------------------------------------------------------ models


class PerformanceReportIn(BaseModel):
    provider: str = Field(pattern=ADDRESS.pattern, description="Mixed case must be valid EIP-55")
    uptime_bps: int = Field(
        ge=0, le=10_000, description="Share of the epoch the node served (9990 = 99.90 %)"
    )
    response_ms_p50: int = Field(ge=0, lt=2**32, description="Median response time, milliseconds")
    error_rate_bps: int = Field(ge=0, le=10_000, description="Failed requests")
    rating_bps: int = Field(ge=0, le=10_000, description="Mean user rating scaled to 0-10,000")

    model_config = {"extra": "forbid"}


class PerformanceSubmission(BaseModel):
    """The body of `POST /v1/performance`. Read and checked by the intake itself, so every bad field
    is reported at once; this model documents it."""

    id: str = Field(pattern=ID.pattern, description="bytes32 batch id (idempotency key)")
    epoch: int = Field(
        ge=0, le=UINT64_MAX, description="The reward epoch measured; not one that has not begun"
    )
    reports: list[PerformanceReportIn] = Field(
        min_length=1, max_length=MAX_REPORTS, description="At most one report per provider"
    )
    signature: str = Field(
        pattern=HEX_SIG.pattern,
        description=f"EIP-712 signature (v 27/28, low s) of {BATCH_TYPE} under the verdicts' domain, "
        "by an account holding DETECTOR_ROLE",
    )

    model_config = {
        "extra": "forbid",
        "json_schema_extra": {
            "examples": [
                {
                    "id": "0x" + "5e" * 32,
                    "epoch": 12,
                    "reports": [
                        {
                            "provider": EXAMPLE_ADDRESS,
                            "uptime_bps": 9990,
                            "response_ms_p50": 120,
                            "error_rate_bps": 10,
                            "rating_bps": 9000,
                        }
                    ],
                    "signature": "0x" + "11" * 64 + "1b",
                }
            ]
        },
    }


class PerformanceBatchResource(BaseModel):
    id: str
    epoch: int
    signer: str = Field(description="The detector that signed the batch (the first, for a replay)")
    reports: int = Field(description="Reports in the batch")
    received_at: str | None = Field(description="ISO-8601 UTC")


class EpochResource(BaseModel):
    epoch: int
    state: str = Field(
        description="The rewards job's state of the epoch: computed, empty (nobody eligible), publishing, "
        "published, or mismatch (the chain holds another root)"
    )
    merkle_root: str = Field(description="Root of the (address, weight) tree; zero for an empty epoch")
    total_weight: str = Field(description="Sum of the eligible weights (decimal string)")
    eligible: int = Field(description="Providers with a weight in the tree")
    providers: int = Field(description="Providers evaluated")
    uri: str = Field(description="Where the full weight list is published")
    published: bool = Field(description="publishEligibility for this epoch is on chain")
    pool: str | None = Field(description=f"The epoch's reward pool on chain (null: never funded). {AMOUNT}")
    claimed: str | None = Field(description=f"Paid out by claims so far. {AMOUNT}")
    claims: int | None
    claims_open_at: str | None = Field(
        description="When claims open (ISO-8601 UTC): the end of the council's challenge of the published "
        "root (null: not published on chain)"
    )
    revocations: int = Field(description="Published roots of this epoch the council revoked")
    swept: str | None = Field(description=f"Sent to the treasury after the claim period. {AMOUNT}")
    computed_at: str | None
    published_at: str | None


class EpochProof(BaseModel):
    epoch: int
    address: str
    weight: str = Field(description="The provider's weight (decimal string): claim(epoch, weight, proof)")
    proof: list[str] = Field(description="Sibling hashes, bottom up (OpenZeppelin MerkleProof)")
    merkle_root: str
    published: bool = Field(description="Claims pass only once the root is published on chain")


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """`model`'s JSON schema with its nested models written in place: a request body schema given
    through `openapi_extra` cannot point into its own `$defs` from within the OpenAPI document."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return dict(resolve(schema))


# ------------------------------------------------------------------------------------------ router

EpochParam = Annotated[int, Path(ge=0, le=UINT64_MAX, description="Reward epoch number")]


def rewards_router(
    engine: Engine, performance: PerformanceIntake, trees: ProofTrees | None = None
) -> APIRouter:
    """The reward endpoints over `engine`; batches go through `performance`, proofs come from
    `trees` (a new in-process cache when None)."""
    router = APIRouter(tags=["rewards"])
    cache = trees or ProofTrees()

    @router.post(
        "/v1/performance",
        status_code=202,
        response_model=None,
        summary="Submit a signed batch of per-epoch performance reports",
        description=(
            "A detector's measurements of providers over one epoch (uptime, p50 response time, error "
            "rate, user rating), which the rewards job scores into reward weights. Signed like "
            f"verdicts (EIP-712, domain SwarmRiskFramework/1), type `{BATCH_TYPE}`. Idempotent by `id` "
            "(200 for the same batch again, 409 for other content under a used id); a later batch "
            "replaces an earlier batch's report of the same provider; 409 once the epoch's weights "
            "are computed; 422 for an epoch that has not begun. Nothing is stored for a rejected "
            f"batch. Bodies over {MAX_PERFORMANCE_BODY // 1024} KiB are refused (413)."
        ),
        responses={
            202: {"model": PerformanceBatchResource, "description": "New batch accepted and stored"},
            200: {"model": PerformanceBatchResource, "description": "This exact batch was accepted before"},
            **problem_responses(401, 409, 413, 422, 503),
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": inline_schema(PerformanceSubmission)}},
            }
        },
    )
    async def submit_performance(request: Request) -> Response:
        raw = await read_body(request, MAX_PERFORMANCE_BODY)
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            return intake_response(
                malformed([{"field": "body", "message": f"not valid JSON ({exc})"}]), PERFORMANCE_BATCHES
            )
        return intake_response(await run_in_threadpool(performance.submit, body), PERFORMANCE_BATCHES)

    @router.get(
        "/v1/epochs/{n}",
        response_model=EpochResource,
        summary="A computed reward epoch: Merkle root, total weight, eligible providers, pool",
        responses=problem_responses(404, 422),
    )
    def get_epoch(n: EpochParam) -> dict[str, Any]:
        with snapshot(engine) as conn:
            doc = epoch_document(conn, n)
        if doc is None:
            raise ProblemException(404, "epoch-not-computed", f"epoch {n} has no computed reward weights")
        return doc

    @router.get(
        "/v1/epochs/{n}/proofs/{address}",
        response_model=EpochProof,
        summary="A provider's weight and Merkle proof in an epoch, for claim(epoch, weight, proof)",
        responses=problem_responses(404, 422),
    )
    def get_proof(n: EpochParam, address: AddressParam) -> dict[str, Any]:
        addr = _address(address)
        with snapshot(engine) as conn:
            doc = epoch_document(conn, n)
            if doc is None:
                raise ProblemException(404, "epoch-not-computed", f"epoch {n} has no computed reward weights")
            row = provider_weight(conn, n, addr)
            proof = None
            if row is not None and row.eligible:
                try:
                    tree = cache.tree(conn, n, doc["merkle_root"])
                except EpochInconsistent as exc:
                    log.error("epoch weights do not match their root", extra={"epoch": n})
                    raise ProblemException(500, "epoch-inconsistent", str(exc)) from None
                proof = tree.proofs.get(addr)
        if proof is None:
            reasons = [NOT_IN_SET] if row is None else reasons_of(row) or [Ineligible.ZERO_WEIGHT.sentence]
            raise ProblemException(
                404,
                "not-eligible",
                f"{addr} earns no reward in epoch {n}: {'; '.join(reasons)}",
                epoch=n,
                address=addr,
                eligible=False,
                reasons=reasons,
            )
        return {
            "epoch": n,
            "address": addr,
            "weight": str(tree.weights[addr]),
            "proof": ["0x" + node.hex() for node in proof],
            "merkle_root": doc["merkle_root"],
            "published": doc["published"],
        }

    return router
