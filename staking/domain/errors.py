"""The project's exception base: callers catch the service's failures in one clause and still
tell them apart by class."""

from __future__ import annotations


class SwarmError(Exception):
    """Base of every error the service raises on purpose."""


class NodeUnreachable(SwarmError, RuntimeError):
    """The Ethereum node does not answer (refused, timed out, or not yet up)."""
