"""Swarm staking & slashing service: verdicts in, on-chain consequences out."""

__version__ = "0.1.0"
