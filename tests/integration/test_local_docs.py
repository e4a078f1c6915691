"""`/docs` and `/redoc` work on an isolated network (SPEC section 10): their pages load Swagger UI
and ReDoc from the service itself, never from a CDN, and those assets are served."""

from __future__ import annotations

import re

import pytest

from tests.support.scrape import scraping

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("page", "assets"),
    [
        ("/docs", ["/static/docs/swagger-ui-bundle.js", "/static/docs/swagger-ui.css"]),
        ("/redoc", ["/static/docs/redoc.standalone.js"]),
    ],
)
def test_the_api_docs_load_every_asset_from_the_service(db_url: str, page: str, assets: list[str]) -> None:
    with scraping(db_url) as app:  # the real app over a real database
        r = app.client.get(page)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        remote = re.findall(r"""(?:src|href)=["']?(https?://[^"'\s>]+)""", r.text) + re.findall(
            r"""url\(["']?(https?://[^"')]+)""", r.text
        )
        assert remote == [], f"{page} loads from elsewhere: {remote}"
        assert "/openapi.json" in r.text
        for asset in assets:
            assert asset in r.text, asset
            served = app.client.get(asset)
            assert served.status_code == 200 and len(served.content) > 10_000, asset
        schema = app.client.get("/openapi.json").json()
        assert "/v1/providers/{address}" in schema["paths"]
        assert "/static/docs" not in str(schema["paths"])  # the assets are not API operations
