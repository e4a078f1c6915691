"""A deployment file and a migrated SQLite database on disk, for tests of the Runtime that must not
reach a node: the deployment's RPC URL is a port nothing listens on, and unit tests refuse sockets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from staking.config import Settings
from staking.db.engine import upgrade
from staking.deployment import Accounts, Contracts, Deployment
from staking.devnet.accounts import devnet_account

UNCONTACTED_RPC = "http://127.0.0.1:9/never-contacted"
STAKING_ADDRESS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
TOKEN_ADDRESS = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"


@dataclass
class Files:
    deployment: Path
    database_url: str

    def settings(self, **values: object) -> Settings:
        values = {"deployment": self.deployment, "database_url": self.database_url} | values
        return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]

    def env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Point the SWARM_* variables at these files (what a CLI command reads)."""
        monkeypatch.setenv("SWARM_DEPLOYMENT", str(self.deployment))
        monkeypatch.setenv("SWARM_DATABASE_URL", self.database_url)
        for name in ("SWARM_RPC_URL", "SWARM_SIGNER_KEY", "SWARM_SIGNER_KEYSTORE", "SWARM_WEBHOOK_URLS"):
            monkeypatch.delenv(name, raising=False)


def devnet_files(tmp_path: Path, chain_id: int = 31337) -> Files:
    deployment = Deployment(
        chain_id=chain_id,
        rpc_url=UNCONTACTED_RPC,
        deployed_block=1,
        contracts=Contracts(SwarmStaking=STAKING_ADDRESS, SwarmToken=TOKEN_ADDRESS),
        accounts=Accounts(
            governance=devnet_account(0).address,
            service=devnet_account(1).address,
            detector=devnet_account(2).address,
        ),
    )
    path = tmp_path / "deployments" / "localhost.json"
    deployment.save(path)
    url = f"sqlite:///{tmp_path}/runtime.db"
    upgrade(url)
    return Files(path, url)
