"""The deployment file `deployments/<network>.json` (SPEC section 6): read and written here only."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Literal

from eth_utils import is_checksum_address
from pydantic import BaseModel, Field, field_validator, model_validator


def _checksummed(value: str) -> str:
    if not is_checksum_address(value):
        raise ValueError(f"{value!r} is not a checksummed address")
    return value


class Contracts(BaseModel):
    SwarmStaking: str
    SwarmToken: str

    _check = field_validator("SwarmStaking", "SwarmToken")(_checksummed)


class Accounts(BaseModel):
    governance: str
    service: str
    detector: str
    treasury: str | None = None  # extra to SPEC section 6: where slashed tokens go
    providers: list[str] = Field(default_factory=list)

    _check = field_validator("governance", "service", "detector")(_checksummed)

    @field_validator("treasury")
    @classmethod
    def _check_treasury(cls, value: str | None) -> str | None:
        return None if value is None else _checksummed(value)

    @field_validator("providers")
    @classmethod
    def _check_providers(cls, value: list[str]) -> list[str]:
        return [_checksummed(v) for v in value]


class Governance(BaseModel):
    """Who holds the governance roles (SPEC section 9). `eoa`: one key (the plain devnet, `make
    demo`); `safe`: the timelock holds DEFAULT_ADMIN_ROLE and GOVERNANCE_ROLE, proposed to and
    cancelled by the governance Safe; the council Safe holds VETOER_ROLE (which also pauses)."""

    mode: Literal["eoa", "safe"] = "eoa"
    timelock: str | None = None
    governance_safe: str | None = None
    council_safe: str | None = None
    owners: list[str] = Field(default_factory=list)  # the governance Safe's owners
    threshold: int = 1
    council_owners: list[str] = Field(default_factory=list)  # extra to SPEC section 9
    council_threshold: int = 1
    min_delay: int = 0  # the timelock's minimum delay, seconds
    multi_send: str | None = None  # Safe's MultiSendCallOnly: the council's batches (extra to SPEC 9)

    @field_validator("timelock", "governance_safe", "council_safe", "multi_send")
    @classmethod
    def _check_contract(cls, value: str | None) -> str | None:
        return None if value is None else _checksummed(value)

    @field_validator("owners", "council_owners")
    @classmethod
    def _check_owners(cls, value: list[str]) -> list[str]:
        return [_checksummed(v) for v in value]

    @model_validator(mode="after")
    def _complete(self) -> Governance:
        if self.mode == "safe" and not (self.timelock and self.governance_safe and self.council_safe):
            raise ValueError("governance mode 'safe' needs timelock, governance_safe and council_safe")
        return self


class Deployment(BaseModel):
    chain_id: int
    rpc_url: str
    deployed_block: int
    contracts: Contracts
    accounts: Accounts
    governance: Governance = Field(default_factory=Governance)  # absent in a file: one EOA

    @classmethod
    def load(cls, path: Path) -> Deployment:
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise FileNotFoundError(
                f"deployment file {path} not found: start a devnet (`make run` or `swarm-staking devnet`) "
                "or point SWARM_DEPLOYMENT at an existing deployment"
            ) from None
        return cls.model_validate_json(text)

    def save(self, path: Path) -> None:
        """Atomic write: a reader never sees a half-written file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w") as f:
            json.dump(self.model_dump(), f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
