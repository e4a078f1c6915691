"""The composition root: every long-lived part of the service, built once from `Settings`.

`build_runtime(settings)` is called once per process — by `serve --role …` (staking/service.py),
by the CLI (staking/cli/common.py, once per command) and by the API's `app_from_settings` — and
the result is passed down. Nothing here reads the environment again or keeps module state.

Parts are built on first use, once (thread-safe), and nothing in the Runtime contacts the node
until a caller uses the chain: the deployment file, the database engine (schema checked), the
web3 connection (lazy by nature: no request until a call), the contract wrappers (ABIs from
`settings.artifacts_dir`), the policy and the signer are all local. So the API starts while the
node is down, and a CLI command that only reads the database needs no deployment file.

Per-role and per-term parts (the role's engine, the indexer, the transaction manager, the
scheduled jobs' context, the action executor, the webhook outbox) are built by factory methods,
because each leader term starts from the database alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
    from sqlalchemy import Connection, Engine
    from web3 import Web3

    from indexer.runner import Indexer, IndexerConfig, Progress
    from staking.chain.contracts import StakingContract
    from staking.config import Settings
    from staking.db.lock import Fence
    from staking.deployment import Deployment
    from staking.notify.webhooks import WebhookNotifier
    from staking.policy import Policy
    from staking.txmanager.manager import Outbox, TxManager
    from staking.worker.drift import Notify
    from staking.worker.executor import ActionExecutor
    from staking.worker.jobs import JobsContext
    from staking.worker.leader import LeaseConfig

T = TypeVar("T")


class _Once(Generic[T]):
    """A part of the Runtime built by `build` on first access, once, under the Runtime's lock."""

    def __init__(self, build: Callable[[Runtime], T]) -> None:
        self.build = build
        self.name = build.__name__

    @overload
    def __get__(self, rt: None, owner: type[Runtime]) -> _Once[T]: ...
    @overload
    def __get__(self, rt: Runtime, owner: type[Runtime]) -> T: ...
    def __get__(self, rt: Runtime | None, owner: type[Runtime]) -> _Once[T] | T:
        if rt is None:
            return self
        parts = rt._parts
        if self.name not in parts:
            with rt._lock:
                if self.name not in parts:
                    parts[self.name] = self.build(rt)
        value: T = parts[self.name]
        return value


def _strict_signer(rt: Runtime) -> LocalAccount:
    """The configured signer: a keystore with its password file, or a raw key on the devnet only."""
    from staking.chain.keys import load_signer

    s = rt.settings
    raw = s.signer_key.get_secret_value() if s.signer_key else None
    return load_signer(rt.deployment.chain_id, s.signer_keystore, s.signer_password_file, raw, prompt=False)


@dataclass(eq=False)
class Runtime:
    """The service's parts for one process. Build it with `build_runtime`."""

    settings: Settings
    clock: Callable[[], float] = time.time  # wall clock, unix seconds
    monotonic: Callable[[], float] = time.monotonic  # for intervals and timeouts
    # How the service signer is loaded (`staking.service.service_signer` adds the devnet fallback).
    load_signer: Callable[[Runtime], LocalAccount] = _strict_signer
    _parts: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)

    # ---- parts, built once on first use; none of them contacts the node

    @_Once
    def deployment(self) -> Deployment:
        from staking.deployment import Deployment

        return Deployment.load(self.settings.deployment)

    @_Once
    def engine(self) -> Engine:
        """The process's engine of `SWARM_DATABASE_URL`, refused unless the schema is current."""
        from staking.db.engine import make_engine, require_current_schema

        engine = make_engine(self.settings.database_url)
        try:
            require_current_schema(engine)
        except BaseException:
            engine.dispose()
            raise
        return engine

    @_Once
    def w3(self) -> Web3:
        """A connection to the node; sends nothing until a call is made."""
        from staking.chain.connect import connect

        return connect(self.rpc_url)

    @_Once
    def staking(self) -> StakingContract:
        """SwarmStaking, with its ABI from `settings.artifacts_dir`."""
        from staking.chain.contracts import StakingContract

        return StakingContract(self.w3, self.deployment.contracts.SwarmStaking, self.settings.artifacts_dir)

    @_Once
    def policy(self) -> Policy:
        from staking.policy import load_policy

        return load_policy(self.settings.policy_file)

    @_Once
    def signer(self) -> LocalAccount:
        return self.load_signer(self)

    @property
    def rpc_url(self) -> str:
        return self.settings.rpc_url or self.deployment.rpc_url

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def built(self, name: str) -> bool:
        """Whether the part `name` has been built (nothing is built by asking)."""
        return name in self._parts

    # ---- per role and per term

    def lease_config(self) -> LeaseConfig:
        from staking.worker.leader import LeaseConfig

        s = self.settings
        return LeaseConfig(seconds=s.worker_lease_seconds, poll=s.worker_standby_poll_seconds)

    def role_engine(self, role: str, holder: str) -> Engine:
        """A role's own engine, whose PostgreSQL sessions carry the holder's `application_name`
        (so a standby can end exactly them); the caller disposes of it."""
        from staking.worker.leader import role_engine

        return role_engine(self.settings.database_url, role, holder)

    def indexer_config(self) -> IndexerConfig:
        from indexer.runner import IndexerConfig

        s = self.settings
        return IndexerConfig(
            confirmations=s.confirmations, initial_span=s.indexer_initial_span, max_span=s.indexer_max_span
        )

    def indexer(
        self,
        engine: Engine | None = None,
        fence: Callable[[Connection], None] | None = None,
        progress: Progress | None = None,
        outbox: Outbox | None = None,
    ) -> Indexer:
        """The indexer of this deployment, decoding with the Runtime's contract ABI; `outbox`
        records the `appeal` webhook in each batch's transaction."""
        from indexer.runner import Indexer

        return Indexer(
            engine if engine is not None else self.engine,
            self.w3,
            self.deployment,
            self.indexer_config(),
            progress=progress,
            fence=fence,
            staking=self.staking,
            outbox=outbox,
        )

    def tx_manager(
        self, engine: Engine, fence: Fence | None = None, outbox: Outbox | None = None
    ) -> TxManager:
        """The service signer's transaction manager for one term; `outbox` records its webhooks
        (a transaction stuck at the fee cap) inside its own database transactions."""
        from staking.txmanager.manager import TxConfig, TxManager

        return TxManager(
            engine,
            self.w3,
            self.signer,
            TxConfig(confirmations=self.settings.confirmations),
            error_name=self.staking.error_name,
            fence=fence,
            outbox=outbox,
        )

    def webhook_notifier(self, engine: Engine | None = None, start: bool = True) -> WebhookNotifier:
        """The webhook outbox. Raises SignerError when webhooks are configured without a secret."""
        from staking.chain.keys import SignerError
        from staking.notify.webhooks import WebhookNotifier

        s = self.settings
        urls = [u.strip() for u in s.webhook_urls.split(",") if u.strip()]
        if urls and s.webhook_secret is None:
            raise SignerError(
                "SWARM_WEBHOOK_URLS is set but SWARM_WEBHOOK_SECRET is not: webhooks must be signed"
            )
        secret = s.webhook_secret.get_secret_value().encode() if s.webhook_secret else b""
        notifier = WebhookNotifier(engine if engine is not None else self.engine, urls, secret)
        return notifier.start() if start else notifier

    def jobs_context(
        self, engine: Engine, txm: TxManager | None, notify: Notify | None = None
    ) -> JobsContext:
        """What the worker's scheduled jobs run with: the policy's `[rewards]`, this clock."""
        from staking.worker.jobs import JobsContext

        return JobsContext(
            engine, self.staking, txm, rules=self.policy.rewards, notify=notify, clock=self.clock
        )

    def executor(self, engine: Engine, txm: TxManager, notify: Notify | None = None) -> ActionExecutor:
        from staking.worker.executor import ActionExecutor

        return ActionExecutor(engine, self.staking, txm, notify=notify, clock=self.clock, policy=self.policy)

    def close(self) -> None:
        """Dispose of the engine if it was built."""
        engine = self._parts.pop("engine", None)
        if engine is not None:
            engine.dispose()


def build_runtime(
    settings: Settings,
    *,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
    load_signer: Callable[[Runtime], LocalAccount] | None = None,
) -> Runtime:
    """The Runtime of one process: nothing is built yet (see the module docstring); the caller
    touches the parts it needs up front to fail fast (`staking.service.serve` does)."""
    return Runtime(settings, clock=clock, monotonic=monotonic, load_signer=load_signer or _strict_signer)
