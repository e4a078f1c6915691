"""Reorg-safe indexing of SwarmStaking events into SQL (built on top of `staking.chain`)."""
