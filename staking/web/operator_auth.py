"""Who may see `/operator`: with an admin token configured (SWARM_ADMIN_TOKEN) the page shows
what the admin-only endpoints show (investigations, stuck transactions), so it asks for the same
token — as a bearer header (curl) or, for a browser, once through a sign-in form that sets an
HttpOnly, SameSite=Strict cookie holding an HMAC of the token (never the token itself). Without
an admin token the page is open, like those endpoints."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

COOKIE = "swarm_operator"
MAX_FORM_BYTES = 4_096


def _token(request: Request) -> bytes | None:
    # `staking.api.security.SecurityOptions`, read by attribute: the pages sit beside the API, not on it.
    secret = getattr(getattr(request.app.state, "security", None), "admin_token", None)
    return None if secret is None else secret.get_secret_value().encode("utf-8")


def _session_value(token: bytes) -> str:
    return hmac.new(token, b"swarm-staking operator page", hashlib.sha256).hexdigest()


def operator_allowed(request: Request) -> bool:
    token = _token(request)
    if token is None:
        return True
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode("latin-1", "replace"), token):
        return True
    cookie = request.cookies.get(COOKIE, "")
    return hmac.compare_digest(cookie.encode("latin-1", "replace"), _session_value(token).encode())


def install_operator_session(app: FastAPI) -> None:
    @app.post("/operator/session", include_in_schema=False)
    async def sign_in(request: Request) -> Response:
        token = _token(request)
        body = await request.body()
        given = parse_qs(body[:MAX_FORM_BYTES].decode("utf-8", "replace")).get("token", [""])[0]
        if token is None or not hmac.compare_digest(given.encode("utf-8"), token):
            # Back to the form, which says the token was wrong (no detail on why: nothing to learn).
            return RedirectResponse("/operator?signin=failed", status_code=303)
        response = RedirectResponse("/operator", status_code=303)
        response.set_cookie(
            COOKIE,
            _session_value(token),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/operator",
            max_age=12 * 3600,
        )
        return response

    @app.post("/operator/sign-out", include_in_schema=False)
    def sign_out() -> Response:
        response = RedirectResponse("/operator", status_code=303)
        response.delete_cookie(COOKIE, path="/operator")
        return response
