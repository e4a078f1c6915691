"""`make run`: the product on one machine — a devnet with the contracts and demo providers, and
the service (`serve --role all`, SQLite) on http://127.0.0.1:8000. Ctrl-C stops both.

The devnet is new on every run, so the embedded database is too: a database indexed from an
earlier devnet describes contracts that no longer exist (the service would refuse it).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from staking.config import Settings
from staking.db.engine import upgrade
from staking.devnet.build import BuildError, ensure_compiled
from staking.devnet.harness import CLI
from staking.devnet.node import LocalNode, NodeError, port_in_use
from staking.devnet.provision import provision_devnet


def say(message: str) -> None:
    print(message, flush=True)


def fresh_sqlite(url: str) -> None:
    """Remove the SQLite file of `url` (with its WAL, shared-memory and lock files)."""
    database = make_url(url).database
    if not database or database == ":memory:":
        return
    for suffix in ("", "-wal", "-shm", ".indexer.lock", ".worker.lock"):
        Path(database + suffix).unlink(missing_ok=True)


def wait_healthy(base: str, service: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.poll() is not None:
            raise RuntimeError(f"the service exited with status {service.returncode} (its log is above)")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the service did not answer {base}/healthz within {timeout:.0f}s")


def stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(chain_port: int, api_port: int, block_time: int, deployment: Path) -> int:
    settings = Settings()
    url = settings.database_url
    backend = make_url(url).get_backend_name()
    if backend != "sqlite":
        say(
            f"make run uses the embedded SQLite database; SWARM_DATABASE_URL is {backend}. "
            "Unset it, or run `swarm-staking devnet` and `swarm-staking serve` yourself."
        )
        return 2
    if port_in_use(api_port):
        say(f"error: port {api_port} is already in use on 127.0.0.1; pick another with --api-port")
        return 1
    try:
        if ensure_compiled():
            say("compiled contracts")
        node = LocalNode.start("anvil", chain_port)
    except (BuildError, NodeError) as exc:
        say(f"error: {exc}")
        return 1
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    service: subprocess.Popen[bytes] | None = None
    try:
        result = provision_devnet(node.w3, node.rpc_url)
        result.save(deployment)
        node.set_block_time(block_time)
        say(f"devnet: anvil at {node.rpc_url}, chain id {result.chain_id}, {block_time}s blocks")
        say(f"  SwarmStaking {result.contracts.SwarmStaking} · deployment file {deployment}")
        fresh_sqlite(url)
        upgrade(url)
        env = dict(os.environ, SWARM_DEPLOYMENT=str(deployment), SWARM_DATABASE_URL=url)
        service = subprocess.Popen([CLI, "serve", "--role", "all", "--port", str(api_port)], env=env)
        base = f"http://127.0.0.1:{api_port}"
        wait_healthy(base, service)
        first = result.accounts.providers[0]
        say("")
        say(f"ready: the service answers on {base} (API docs {base}/docs), database {url}")
        say(f"  try:  curl {base}/v1/providers/{first}")
        say("        make demo            (another terminal: verdicts, a veto, recovery, a reward epoch)")
        say("  keys: the public default mnemonic 'test test … junk' (devnet only). Ctrl-C stops everything.")
        while node.alive() and service.poll() is None:
            time.sleep(0.5)
        say("the devnet or the service stopped unexpectedly; shutting down")
        return 1
    except KeyboardInterrupt:
        say("\nstopping the service and the devnet …")
        return 0
    except Exception as exc:
        say(f"error: {exc} (chain log: {node.log_path})")
        return 1
    finally:
        stop(service)
        node.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m staking.devnet.run", description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=8545, help="devnet JSON-RPC port on 127.0.0.1")
    p.add_argument("--api-port", type=int, default=8000, help="HTTP API port on 127.0.0.1")
    p.add_argument("--block-time", type=int, default=1, help="seconds per block")
    p.add_argument("--deployment", type=Path, default=Path("deployments/localhost.json"))
    args = p.parse_args(argv)
    return run(args.port, args.api_port, args.block_time, args.deployment)


if __name__ == "__main__":
    sys.exit(main())
