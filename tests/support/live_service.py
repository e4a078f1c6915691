"""What tests do to a live `serve` process on the devnet."""

from __future__ import annotations

import httpx
from eth_utils import keccak

from staking.devnet.accounts import DETECTOR, devnet_account
from staking.devnet.harness import LocalDeployment
from staking.domain.vocabulary import EventType, Severity
from staking.verdict import Verdict, sign_verdict, to_wire


def post_verdict(
    net: LocalDeployment, base_url: str, provider: str, tag: str, event_type: EventType, severity: Severity
) -> Verdict:
    """A verdict against `provider`, signed by the devnet detector, detected now (block time) and
    accepted (202) by the service at `base_url`; `tag` makes its id."""
    v = Verdict(keccak(text=tag), provider, event_type, severity, net.now(), keccak(text=f"{tag}-e"))
    body = to_wire(v, sign_verdict(v, net.staking.domain(), devnet_account(DETECTOR).key))
    r = httpx.post(f"{base_url}/v1/verdicts", json=body, timeout=10)
    assert r.status_code == 202, r.text
    return v


def post_breach(net: LocalDeployment, base_url: str, provider: str, tag: str) -> Verdict:
    """A high security-breach verdict against `provider`: the service jails the provider."""
    return post_verdict(net, base_url, provider, tag, EventType.SECURITY_BREACH, Severity.HIGH)
