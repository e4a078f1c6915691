"""What one provider's document is built from: the rows read on one snapshot (`Parts`), however
they were read (per-lookup statements on SQLite, one statement on PostgreSQL, or a recorded JSON
fixture), and the indexer settings the documents share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from staking.domain.clock import EpochClock
from staking.domain.vocabulary import ProviderClass

META_KEYS = (
    "checkpoint_block",
    "checkpoint_hash",
    "checkpoint_time",
    "head_block",
    "epoch_genesis",
    "epoch_length",
)
PARAM_NAMES = (*(f"class.{int(c)}" for c in ProviderClass), "paused", "appeal_bond")
# The `appeals` columns each slash row carries as `appeal_<column>` (null: no appeal), so every
# read of slashes (the document, the listings, the one statement) shows its appeal.
APPEAL_COLUMNS = ("state", "evidence_hash", "bond", "deadline", "resolved_at", "reason_hash")


class Row(dict[str, Any]):
    """A row decoded from JSON, read by attribute like a SQLAlchemy row."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass
class Parts:
    """What one provider's document is built from, read on one snapshot.

    `meta` / `params`: the indexer's `META_KEYS` and the `PARAM_NAMES` parameters. `provider`: its
    `providers` row (a mapping), None when unregistered. `jail_guidance`: the recovery path the
    service's policy chose for the jailing verdict. `slashes`: its slashes newest first, each with
    `verdict_status`. `strikes`: its decided offences detected within the window before `now` or
    later, newest first (the builder narrows them to the window before the evaluation time).
    `reward_epochs`: the most recent computed epochs, newest first, each with the provider's
    weight row (None when the provider is not in that epoch's set); each slash also carries its
    appeal's `APPEAL_COLUMNS` as `appeal_<column>` (all null without an appeal). `in_flight`: the
    service's own chain actions for the provider mined after the indexer's checkpoint (`kind`, `verdict_id`,
    `tx_hash`, `block`), oldest first. `held`: its actions an open incident holds (`kind`,
    `verdict_id`, `note`, `incident_id`), oldest first. `signers`: the detectors of its verdicts
    (`verdict_id`, `signer`, `received_ms`), in the order they signed."""

    meta: dict[str, str]
    params: dict[str, str]
    provider: Any | None
    jail_guidance: int | None
    slashes: list[Any]
    strikes: list[Any]
    reward_epochs: list[tuple[int, Any | None]]
    in_flight: list[Any] = field(default_factory=list)
    held: list[Any] = field(default_factory=list)
    signers: list[Any] = field(default_factory=list)


def to_int(value: str | None) -> int | None:
    return int(value) if value is not None and value.lstrip("-").isdigit() else None


def epoch_clock(meta: dict[str, str]) -> EpochClock | None:
    """The contract's epoch clock as the indexer recorded it (None before the first indexer run)."""
    genesis, length = to_int(meta.get("epoch_genesis")), to_int(meta.get("epoch_length"))
    return EpochClock(genesis, length) if genesis is not None and length else None


def evaluated_at(meta: dict[str, str], now: int) -> int:
    """The time a document is judged at: `now`, or the last indexed block's time if later (the
    chain's clock never runs backwards; a devnet moved forward is judged by its own clock)."""
    return max(now, to_int(meta.get("checkpoint_time")) or 0)


def checkpoint_block(meta: dict[str, str]) -> int:
    """The indexer's checkpoint block; -1 before its first batch (then nothing is indexed)."""
    block = to_int(meta.get("checkpoint_block"))
    return -1 if block is None else block


# ---- recorded parts (tests/fixtures): plain JSON, amounts as the database returns them


def parts_from_json(d: dict[str, Any]) -> Parts:
    """`Parts` from `parts_to_json`'s form."""
    return Parts(
        meta=dict(d["meta"]),
        params=dict(d["params"]),
        provider=None if d["provider"] is None else Row(d["provider"]),
        jail_guidance=d["jail_guidance"],
        slashes=[Row(s) for s in d["slashes"]],
        strikes=[Row(s) for s in d["strikes"]],
        reward_epochs=[(int(e), None if w is None else Row(w)) for e, w in d["reward_epochs"]],
        in_flight=[Row(a) for a in d.get("in_flight", ())],
        held=[Row(a) for a in d.get("held", ())],
        signers=[Row(a) for a in d.get("signers", ())],
    )


def parts_to_json(parts: Parts) -> dict[str, Any]:
    """The parts as plain JSON values: record a live lookup as a fixture."""

    def plain(row: Any) -> dict[str, Any]:
        return dict(row._mapping) if hasattr(row, "_mapping") else dict(row)

    return {
        "meta": dict(parts.meta),
        "params": dict(parts.params),
        "provider": None if parts.provider is None else plain(parts.provider),
        "jail_guidance": parts.jail_guidance,
        "slashes": [plain(s) for s in parts.slashes],
        "strikes": [plain(s) for s in parts.strikes],
        "reward_epochs": [[e, None if w is None else plain(w)] for e, w in parts.reward_epochs],
        "in_flight": [plain(a) for a in parts.in_flight],
        "held": [plain(a) for a in parts.held],
        "signers": [plain(a) for a in parts.signers],
    }
