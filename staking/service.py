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
import time
from collections.abc import Callable

from eth_account.signers.local import LocalAccount

from staking.config import Settings
from staking.db.lock import Fence
from staking.devnet.accounts import SERVICE, devnet_account
from staking.domain.vocabulary import DEVNET_CHAIN_ID
from staking.runtime import Runtime, build_runtime
from staking.worker.leader import Leadership, new_holder

log = logging.getLogger("service")
ROLES = ("all", "api", "indexer", "worker")


def service_signer(rt: Runtime) -> LocalAccount:
    """The worker's signer: the configured one, or on the devnet with nothing configured, the
    deployment's service account #1 of the public default mnemonic."""
    from staking.chain.keys import load_signer

    s = rt.settings
    raw = s.signer_key.get_secret_value() if s.signer_key else None
    if s.signer_keystore is None and raw is None and rt.deployment.chain_id == DEVNET_CHAIN_ID:
        log.info("no signer configured: using devnet account #1 (public default mnemonic)")
        return devnet_account(SERVICE)
    return load_signer(rt.deployment.chain_id, s.signer_keystore, s.signer_password_file, raw, prompt=False)


def open_runtime(settings: Settings, clock: Callable[[], float] = time.time) -> Runtime:
    """The process's Runtime, with what every role needs checked now (the deployment file, the
    database schema, the contract ABIs), none of which contacts the node."""
    rt = build_runtime(settings, clock=clock, load_signer=service_signer)
    rt.deployment  # noqa: B018 - each access builds and checks the part
    rt.engine  # noqa: B018
    rt.staking  # noqa: B018
    return rt


def indexer_loop(rt: Runtime, stop: threading.Event) -> None:
    """Follows the chain into SQL while this process leads the indexer role; stands by otherwise."""
    from indexer.runner import Progress

    rt.webhook_notifier(start=False)  # misconfigured: fail now, not at takeover
    holder = new_holder()
    engine = rt.role_engine("indexer", holder)

    def lead(fence: Fence, lead_stop: threading.Event) -> None:
        # Per term: it resumes from the checkpoint the last leader committed. It only writes the
        # `appeal` webhook to the outbox; the worker's notifier delivers it.
        outbox = rt.webhook_notifier(engine, start=False).record
        indexer = rt.indexer(engine, fence=fence.check, progress=Progress(), outbox=outbox)
        log.info(
            "indexer started", extra={"deployed_block": rt.deployment.deployed_block, "term": fence.term}
        )
        indexer.run(lead_stop)

    try:
        Leadership(engine, "indexer", rt.lease_config(), holder).run(stop, lead)
    finally:
        engine.dispose()


def worker_loop(rt: Runtime, stop: threading.Event) -> None:
    """Scheduler, action executor and transaction manager, while this process leads the worker
    role; stands by otherwise. Each term starts from the database alone (nonces, intents, actions):
    nothing of a previous term is kept in memory, and the transaction manager is fenced by the term."""
    from staking.worker.jobs import start_scheduler

    rt.policy  # noqa: B018 - a bad policy file fails now, not at takeover
    account = rt.signer
    rt.webhook_notifier(start=False)  # misconfigured: fail now, not at takeover
    holder = new_holder()
    engine = rt.role_engine("worker", holder)

    def lead(fence: Fence, lead_stop: threading.Event) -> None:
        notifier = rt.webhook_notifier(engine, start=False)
        # outbox: a transaction stuck at the fee cap is announced (tx_fee_capped) in its own DB transaction
        txm = rt.tx_manager(engine, fence, outbox=notifier.record)
        txm.reconcile()
        notifier.start()
        scheduler = start_scheduler(rt.jobs_context(engine, txm, notify=notifier))
        log.info(
            "worker started",
            extra={"signer": account.address, "webhooks": len(notifier.urls), "term": fence.term},
        )
        try:
            rt.executor(engine, txm, notify=notifier).run(lead_stop)
        finally:
            scheduler.shutdown(wait=False)  # a job still running is fenced like everything else
            notifier.stop()

    try:
        Leadership(engine, "worker", rt.lease_config(), holder).run(stop, lead)
    finally:
        engine.dispose()


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

    rt = open_runtime(settings)
    stop = threading.Event()
    errors: list[BaseException] = []
    threads = []
    parts: list[tuple[str, Callable[[], None]]] = []
    if role in ("all", "indexer"):
        parts.append(("indexer", lambda: indexer_loop(rt, stop)))
    if role in ("all", "worker"):
        parts.append(("worker", lambda: worker_loop(rt, stop)))
    for name, fn in parts:
        th = threading.Thread(target=_guarded, args=(name, fn, stop, errors), name=name, daemon=True)
        th.start()
        threads.append(th)

    if role in ("all", "api"):
        import uvicorn

        from staking.api.app import app_from_settings

        server = uvicorn.Server(
            uvicorn.Config(
                app_from_settings(settings, rt), host=host, port=port, log_config=None, access_log=False
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
    rt.close()
    if errors:
        raise errors[0]
