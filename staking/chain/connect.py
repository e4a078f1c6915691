"""Connecting to a JSON-RPC node, with a readiness poll instead of fixed sleeps."""

from __future__ import annotations

import time

from web3 import HTTPProvider, Web3

from staking.domain.errors import NodeUnreachable


def connect(rpc_url: str, timeout: float = 10.0) -> Web3:
    return Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))


def wait_for_rpc(rpc_url: str, timeout: float = 30.0, interval: float = 0.1) -> Web3:
    """Poll `eth_chainId` until the node answers or `timeout` passes."""
    w3 = connect(rpc_url, timeout=2.0)
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            w3.eth.chain_id  # noqa: B018 - the call is the probe
            return connect(rpc_url)
        except Exception as exc:  # any transport error means "not yet"
            last_error = exc
            time.sleep(interval)
    raise NodeUnreachable(f"no JSON-RPC answer from {rpc_url} within {timeout:.0f}s ({last_error})")
