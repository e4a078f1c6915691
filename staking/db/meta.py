"""Keys of the `meta` table and the values of `drift_findings.field`, next to the tables they
describe, so a reader (`/readyz`, `/metrics`) and the writer (the drift check) share one
definition without the reader importing the writer."""

from __future__ import annotations

# The latest drift check (`staking.worker.drift`): unix ms it finished and the block it compared at.
DRIFT_CHECKED_MS = "drift_checked_ms"
DRIFT_BLOCK = "drift_block"

# `providers` columns the drift check compares with the contract's `getProvider`.
DRIFT_PROVIDER_COLUMNS = (
    "provider_class",
    "gpus",
    "active",
    "unbonding",
    "unbonding_end",
    "jailed",
    "jailed_until",
    "tombstoned",
    "recovery_path",
    "recovery_stage",
    "pending_slashes",
)
# Every value `drift_findings.field` takes: the provider columns, a provider row the contract does
# not know, a slash whose state differs, pending slash rows that do not add up to the contract's.
DRIFT_FIELDS = (*DRIFT_PROVIDER_COLUMNS, "registered", "slash_state", "pending_slash_rows")
