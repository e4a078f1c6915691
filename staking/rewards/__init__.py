"""Reward eligibility: weights per provider and their on-chain Merkle publication."""
