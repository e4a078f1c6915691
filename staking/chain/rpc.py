"""Raw JSON-RPC for the hot paths (indexer, transaction manager).

`provider.make_request` skips web3's middleware and result formatters, which on the send path
cost more than the node itself (web3's validation middleware alone asks for the chain id before
every call). Batches go out as one HTTP request. Transport failures raise `NodeUnreachable`, node errors
`RpcError` (with the revert data, if any).
"""

from __future__ import annotations

from typing import Any

import requests
from web3 import Web3

from staking.domain.errors import NodeUnreachable, SwarmError


class RpcTimeout(NodeUnreachable):
    """The node took longer than the call's timeout."""

    pass


class RpcError(SwarmError, RuntimeError):
    def __init__(self, method: str, error: dict[str, Any]) -> None:
        self.code = int(error.get("code", 0))
        self.message = str(error.get("message", error))
        data = error.get("data")
        # Revert data: a hex string (anvil, hardhat, geth) or nested as {"data": "0x…"}.
        self.data: str | None = data if isinstance(data, str) else (data or {}).get("data")
        super().__init__(f"{method}: {self.message}")


class RawRpc:
    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        self.provider: Any = w3.provider

    def call(self, method: str, params: list[Any]) -> Any:
        try:
            response = self.provider.make_request(method, params)
        except (requests.Timeout, TimeoutError) as exc:
            raise RpcTimeout(f"{method}: {type(exc).__name__}") from None
        except (requests.ConnectionError, ConnectionError, OSError) as exc:
            raise NodeUnreachable(f"{method}: {type(exc).__name__}") from None
        if "error" in response:
            raise RpcError(method, dict(response["error"]))
        return response["result"]

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Results in call order; a failed call's slot holds its RpcError instead."""
        if not calls:
            return []
        if not hasattr(self.provider, "make_batch_request"):
            out: list[Any] = []
            for method, params in calls:
                try:
                    out.append(self.call(method, params))
                except RpcError as exc:
                    out.append(exc)
            return out
        try:
            responses = self.provider.make_batch_request(calls)
        except (requests.Timeout, TimeoutError) as exc:
            raise RpcTimeout(f"batch: {type(exc).__name__}") from None
        except (requests.ConnectionError, ConnectionError, OSError) as exc:
            raise NodeUnreachable(f"batch: {type(exc).__name__}") from None
        if isinstance(responses, dict):  # the node refused the whole batch
            raise RpcError("batch", dict(responses.get("error", responses)))
        by_id = {r.get("id"): r for r in responses}
        ordered = by_id.values() if len(by_id) != len(responses) else responses
        return [
            RpcError(calls[i][0], dict(r["error"])) if "error" in r else r.get("result")
            for i, r in enumerate(sorted(ordered, key=lambda r: r.get("id", 0)))
        ]
