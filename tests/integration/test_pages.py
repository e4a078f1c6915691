"""The web pages (SPEC section 10) over a real database and Anvil, without a browser: what each
page says after a jail and a slash proposal on chain, on SQLite and PostgreSQL; the strict
Content-Security-Policy; a malformed address answered in words; and the operator page behind
the admin token (bearer, or the sign-in form's cookie, which never holds the token)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from indexer.runner import Indexer
from staking.api.app import create_app
from staking.api.network import LiveCaps, live_caps
from staking.api.security import SecurityOptions
from staking.db.engine import make_engine
from staking.domain.vocabulary import EventType, Severity
from staking.intake.service import IntakeService
from staking.policy import load_policy
from staking.web.operator_auth import COOKIE
from tests.support.chain import Chain

pytestmark = pytest.mark.integration

TOKEN = "operator-token-for-the-test"


def client_for(chain: Chain, db_url: str, token: str | None = None) -> Iterator[TestClient]:
    engine = make_engine(db_url)
    Indexer(engine, chain.w3, chain.deployment).run(exit_at_head=True)
    intake = IntakeService(engine, chain.staking.domain(), None, load_policy(), max_age=3600)
    security = SecurityOptions(admin_token=SecretStr(token) if token else None)
    caps = LiveCaps(lambda: live_caps(chain.staking), ttl=0)
    app = create_app(engine, intake, clock=lambda: float(chain.now()), security=security, caps=caps)
    with TestClient(app) as client:
        yield client
    engine.dispose()


def jail_and_propose(chain: Chain) -> str:
    p = chain.providers[0]
    v, sig = chain.signed(p, event_type=EventType.SYSTEM_ATTACK, severity=Severity.HIGH)
    chain.tx(chain.staking.jail_and_propose_slash(v, sig, 0, 2_000), chain.service)
    return "0x" + v.id.hex()


def test_the_pages_tell_what_the_chain_did(chain: Chain, db_url: str) -> None:
    slash_id = jail_and_propose(chain)
    p = chain.providers[0]
    amount = chain.staking.slash(bytes.fromhex(slash_id[2:])).amount
    for client in client_for(chain, db_url):
        provider = client.get(f"/providers/{p.lower()}")
        network = client.get("/")
        operator = client.get("/operator")
    assert provider.status_code == 200 and provider.headers["content-type"].startswith("text/html")
    assert 'data-test="status">jailed<' in provider.text
    assert f'title="{amount:,} base units"' in provider.text and slash_id in provider.text
    assert "system attack" in provider.text
    assert network.status_code == 200 and "jailed" in network.text and p[:8] in network.text
    assert operator.status_code == 200 and f"swarm-staking slash veto {slash_id}" in operator.text
    caps = chain.staking.caps()
    assert f">1 of {caps.jail_cap} jails<" in operator.text  # the window's use, read live from the contract
    assert network.status_code == 200 and client_network_ok(network.text)
    for r in (provider, network, operator):
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        # Nothing from elsewhere: every src and href is this service's own path or a fragment.
        assert not re.findall(r'(?:src|href)="(?!/|#|data:)[^"]*"', r.text)


def client_network_ok(text: str) -> bool:
    return "Providers by status" in text and "Recent consequences" in text


def test_a_malformed_address_is_answered_in_words_and_a_good_one_found(chain: Chain, db_url: str) -> None:
    for client in client_for(chain, db_url):
        bad = client.get("/providers/0x12")
        search = client.get("/providers", params={"address": "<b>nope</b>"})
        found = client.get(
            "/providers", params={"address": f" {chain.providers[1].lower()} "}, follow_redirects=False
        )
        unknown = client.get("/providers/0x" + "11" * 20)
    assert bad.status_code == 400 and "is not an address" in bad.text
    assert (
        search.status_code == 400
        and "&lt;b&gt;nope&lt;/b&gt;" in search.text
        and "<b>nope" not in search.text
    )
    assert found.status_code == 303 and found.headers["location"] == f"/providers/{chain.providers[1]}"
    assert unknown.status_code == 200 and 'data-test="status">unregistered<' in unknown.text


def test_the_operator_page_needs_the_admin_token_when_one_is_set(chain: Chain, db_url: str) -> None:
    for client in client_for(chain, db_url, token=TOKEN):
        refused = client.get("/operator")
        bearer = client.get("/operator", headers={"Authorization": f"Bearer {TOKEN}"})
        wrong = client.post("/operator/session", data={"token": "guess"}, follow_redirects=False)
        assert COOKIE not in client.cookies
        signed_in = client.post("/operator/session", data={"token": TOKEN}, follow_redirects=False)
        cookie = client.cookies.get(COOKIE)
        page = client.get("/operator")
        client.post("/operator/sign-out", follow_redirects=False)
        client.cookies.clear()
        after = client.get("/operator")
        client.cookies.set(COOKIE, TOKEN, path="/operator")  # the raw token is not the session value
        forged = client.get("/operator")
    assert (
        refused.status_code == 401
        and 'type="password"' in refused.text
        and "Pending slashes" not in refused.text
    )
    assert bearer.status_code == 200 and "Pending slashes" in bearer.text
    assert wrong.status_code == 303 and wrong.headers["location"] == "/operator?signin=failed"
    assert signed_in.status_code == 303 and "httponly" in signed_in.headers["set-cookie"].lower()
    assert "samesite=strict" in signed_in.headers["set-cookie"].lower()
    assert cookie and TOKEN not in cookie
    assert page.status_code == 200 and "Pending slashes" in page.text
    assert after.status_code == 401 and forged.status_code == 401
