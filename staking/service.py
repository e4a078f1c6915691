"""`swarm-staking serve`: the roles of the service in one process or one per process.

- indexer: follows the chain into SQL (one leader per database, any number standing by)
- worker:  executes decided actions through the transaction manager (one leader per database,
           any number standing by; see `staking.worker.leader`)
- api:     the HTTP API on 127.0.0.1:8000 (any number)
- all:     the three together, the embedded default
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine
from web3 import Web3

from staking.chain.connect import connect
from staking.chain.contracts import StakingContract
from staking.chain.keys import SignerError, load_signer
from staking.config import Settings
from staking.db.engine import make_engine, require_current_schema
from staking.db.lock import Fence
from staking.deployment import Deployment
from staking.devnet.accounts import SERVICE, devnet_account
from staking.domain.vocabulary import DEVNET_CHAIN_ID
from staking.notify.webhooks import WebhookNotifier
from staking.worker.leader import Leadership, LeaseConfig, new_holder, role_engine

log = logging.getLogger("service")
ROLES = ("all", "api", "indexer", "worker")


@dataclass
class Context:
    settings: Settings
    deployment: Deployment
    engine: Engine
    w3: Web3
    staking: StakingContract


def open_context(settings: Settings) -> Context:
    deployment = Deployment.load(settings.deployment)
    engine = make_engine(settings.database_url)
    require_current_schema(engine)
    w3 = connect(settings.rpc_url or deployment.rpc_url)
    return Context(settings, deployment, engine, w3, StakingContract(w3, deployment.contracts.SwarmStaking))


def service_signer(ctx: Context) -> LocalAccount:
    s = ctx.settings
    raw = s.signer_key.get_secret_value() if s.signer_key else None
    if s.signer_keystore is None and raw is None and ctx.deployment.chain_id == DEVNET_CHAIN_ID:
        log.info("no signer configured: using devnet account #1 (public default mnemonic)")
        return devnet_account(SERVICE)
    return load_signer(ctx.deployment.chain_id, s.signer_keystore, s.signer_password_file, raw, prompt=False)


def lease_config(settings: Settings) -> LeaseConfig:
    return LeaseConfig(seconds=settings.worker_lease_seconds, poll=settings.worker_standby_poll_seconds)


def indexer_loop(ctx: Context, stop: threading.Event) -> None:
    """Follows the chain into SQL while this process leads the indexer role; stands by otherwise."""
    from indexer.runner import Indexer, IndexerConfig, Progress

    holder = new_holder()
    engine = role_engine(ctx.settings.database_url, "indexer", holder)

    def lead(fence: Fence, lead_stop: threading.Event) -> None:
        indexer = Indexer(  # per term: it resumes from the checkpoint the last leader committed
            engine,
            ctx.w3,
            ctx.deployment,
            IndexerConfig(
                confirmations=ctx.settings.confirmations,
                initial_span=ctx.settings.indexer_initial_span,
                max_span=ctx.settings.indexer_max_span,
            ),
            progress=Progress(),
            fence=fence.check,
        )
        log.info(
            "indexer started", extra={"deployed_block": ctx.deployment.deployed_block, "term": fence.term}
        )
        indexer.run(lead_stop)

    try:
        Leadership(engine, "indexer", lease_config(ctx.settings), holder).run(stop, lead)
    finally:
        engine.dispose()


def worker_loop(ctx: Context, stop: threading.Event) -> None:
    """Scheduler, action executor and transaction manager, while this process leads the worker
    role; stands by otherwise. Each term starts from the database alone (nonces, intents, actions):
    nothing of a previous term is kept in memory, and the transaction manager is fenced by the term."""
    from staking.policy import load_policy
    from staking.txmanager.manager import TxConfig, TxManager
    from staking.worker.executor import ActionExecutor
    from staking.worker.jobs import JobsContext, start_scheduler

    rules = load_policy(ctx.settings.policy_file).rewards  # the policy's [rewards]
    account = service_signer(ctx)
    webhook_notifier(ctx.settings, ctx.engine, start=False)  # misconfigured: fail now, not at takeover
    holder = new_holder()
    engine = role_engine(ctx.settings.database_url, "worker", holder)

    def lead(fence: Fence, lead_stop: threading.Event) -> None:
        txm = TxManager(
            engine,
            ctx.w3,
            account,
            TxConfig(confirmations=ctx.settings.confirmations),
            error_name=ctx.staking.error_name,
            fence=fence,
        )
        txm.reconcile()
        notifier = webhook_notifier(ctx.settings, engine)
        scheduler = start_scheduler(JobsContext(engine, ctx.staking, txm, rules=rules, notify=notifier))
        log.info(
            "worker started",
            extra={"signer": account.address, "webhooks": len(notifier.urls), "term": fence.term},
        )
        try:
            ActionExecutor(engine, ctx.staking, txm, notify=notifier).run(lead_stop)
        finally:
            scheduler.shutdown(wait=False)  # a job still running is fenced like everything else
            notifier.stop()

    try:
        Leadership(engine, "worker", lease_config(ctx.settings), holder).run(stop, lead)
    finally:
        engine.dispose()


def webhook_notifier(settings: Settings, engine: Engine, start: bool = True) -> WebhookNotifier:
    urls = [u.strip() for u in settings.webhook_urls.split(",") if u.strip()]
    if urls and settings.webhook_secret is None:
        raise SignerError(
            "SWARM_WEBHOOK_URLS is set but SWARM_WEBHOOK_SECRET is not: webhooks must be signed"
        )
    secret = settings.webhook_secret.get_secret_value().encode() if settings.webhook_secret else b""
    notifier = WebhookNotifier(engine, urls, secret)
    return notifier.start() if start else notifier


def _guarded(
    name: str, target: Callable[[], None], stop: threading.Event, errors: list[BaseException]
) -> None:
    try:
        target()
    except BaseException as exc:
        errors.append(exc)
        log.error(f"{name} stopped: {exc}")
        stop.set()


def serve(settings: Settings, role: str, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Runs `role` until SIGINT/SIGTERM; raises the first fatal error of any part."""
    import signal

    ctx = open_context(settings)
    stop = threading.Event()
    errors: list[BaseException] = []
    threads = []
    parts: list[tuple[str, Callable[[], None]]] = []
    if role in ("all", "indexer"):
        parts.append(("indexer", lambda: indexer_loop(ctx, stop)))
    if role in ("all", "worker"):
        parts.append(("worker", lambda: worker_loop(ctx, stop)))
    for name, fn in parts:
        th = threading.Thread(target=_guarded, args=(name, fn, stop, errors), name=name, daemon=True)
        th.start()
        threads.append(th)

    if role in ("all", "api"):
        import uvicorn

        from staking.api.app import app_from_settings

        server = uvicorn.Server(
            uvicorn.Config(
                app_from_settings(settings), host=host, port=port, log_config=None, access_log=False
            )
        )

        def stop_server_when_a_part_fails() -> None:
            stop.wait()
            server.should_exit = True

        threading.Thread(target=stop_server_when_a_part_fails, daemon=True).start()
        server.run()  # handles SIGINT/SIGTERM itself
        stop.set()
    else:
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        stop.wait()
    for th in threads:
        th.join(timeout=10)
    if errors:
        raise errors[0]
