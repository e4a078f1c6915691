"""The slashing policy: verdict + provider history -> decision. Pure: no web3, no SQL."""

from staking.policy.engine import Decision, Offence, Policy, decide, load_policy

__all__ = ["Decision", "Offence", "Policy", "decide", "load_policy"]
