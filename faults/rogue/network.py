"""The rogue trial's network: an Anvil devnet with `providers` staked providers (the 7 demo ones
and the rest in bulk), three detectors (the devnet's #2 and #11 honest, #12 the rogue), and tight,
production-like caps set by governance. Plus a fresh service database (SQLite or PostgreSQL)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from faults.rogue.chainview import ChainView
from staking.chain.contracts import Caps
from staking.chain.sender import Sender
from staking.deploy import StakingParams, apply_bounds
from staking.devnet.accounts import DETECTOR, GOVERNANCE, devnet_account
from staking.devnet.harness import LocalDeployment, local_deployment
from staking.devnet.provision import DEMO_PROVIDERS, grant_detectors
from staking.domain.vocabulary import BPS

HONEST_DETECTORS = (DETECTOR, 11)  # the deployment's detector and a second one
ROGUE_DETECTOR = 12
OUTSIDER = 13  # holds no role: tries executeSlash once the veto window is over
RESERVE_JAILS = 10  # the default policy's incidents.reserve_jails
PG_ADMIN_URL = os.environ.get("SWARM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def jail_cap_for(providers: int) -> int:
    """10 % of the providers (the production default's share), and at least twice the policy's
    jail reserve, so even a small (--quick) network leaves the rogue some jails to use."""
    return max(providers // 10, 2 * RESERVE_JAILS)


def trial_params(providers: int) -> StakingParams:
    """The devnet's clocks (veto window 120 s) with production-sized caps for `providers`."""
    return dataclasses.replace(
        StakingParams.devnet(),
        cap_window=24 * 3600,
        jail_cap=jail_cap_for(providers),
        slash_cap_bps=500,
        max_slash_bps=5_000,
        severity_bounds=(500, 1_000, 2_500, 5_000),
        quorum=2,
        quorum_bps=1_000,
    )


@dataclass
class RogueNet:
    net: LocalDeployment
    view: ChainView
    rogue: LocalAccount
    honest: tuple[LocalAccount, LocalAccount]
    caps: Caps
    veto_window: int
    total_bonded: int
    first_block: int  # the first block after the set-up
    setup_seconds: float

    @property
    def slash_cap(self) -> int:
        """The stake proposals may put at stake per window, in base units."""
        return self.total_bonded * self.caps.slash_cap_bps // BPS

    def figures(self) -> dict[str, Any]:
        c = self.caps
        return {
            "providers": len(self.net.providers),
            "total_bonded": str(self.total_bonded),
            "cap_window_seconds": c.window,
            "jail_cap": c.jail_cap,
            "slash_cap_bps": c.slash_cap_bps,
            "slash_cap": str(self.slash_cap),
            "max_slash_bps": c.max_slash_bps,
            "severity_bounds_bps": dict(
                zip(("low", "medium", "high", "critical"), c.severity_bounds, strict=True)
            ),
            "detector_quorum": c.quorum,
            "quorum_bps": c.quorum_bps,
            "veto_window_seconds": self.veto_window,
            "detectors": {"rogue": self.rogue.address, "honest": [h.address for h in self.honest]},
            "setup_seconds": round(self.setup_seconds, 1),
        }


@contextlib.contextmanager
def rogue_network(workdir: Path, providers: int, block_time: int) -> Iterator[RogueNet]:
    """The network, automining while it is set up, then mining every `block_time` seconds
    (0: automine stays on). Stopped when the block exits."""
    started = time.monotonic()
    extra = max(0, providers - len(DEMO_PROVIDERS))
    with local_deployment(workdir, extra_providers=extra, block_time=0, bulk=True) as net:
        w3 = net.node.w3
        honest = (devnet_account(HONEST_DETECTORS[0]), devnet_account(HONEST_DETECTORS[1]))
        rogue = devnet_account(ROGUE_DETECTOR)
        grant_detectors(w3, net.deployment, [honest[1].address, rogue.address])
        apply_bounds(Sender(w3, devnet_account(GOVERNANCE)), net.staking, trial_params(len(net.providers)))
        net.node.set_block_time(block_time)
        yield RogueNet(
            net=net,
            view=ChainView(net),
            rogue=rogue,
            honest=honest,
            caps=net.staking.caps(),
            veto_window=net.staking.veto_window(),
            total_bonded=net.staking.total_bonded(),
            first_block=w3.eth.block_number + 1,
            setup_seconds=time.monotonic() - started,
        )


def pg_unavailable() -> str | None:
    """None when the PostgreSQL server at PG_ADMIN_URL answers, else why not."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except Exception as exc:
        return f"PostgreSQL at {PG_ADMIN_URL} unreachable: {type(exc).__name__}"


@contextlib.contextmanager
def fresh_database(kind: str, workdir: Path) -> Iterator[str]:
    """An empty database's URL (the service's `db upgrade` migrates it): a SQLite file in
    `workdir`, or a new PostgreSQL database, dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir}/service.db"
        return
    import psycopg

    name = f"swarm_rogue_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
