"""The API docs pages are served whole by the app: no asset comes from another host, and
the descriptions they show are Markdown (what Swagger UI and ReDoc render), not RST."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from rolegate.api.routers.docs import ASSETS

#: Every URL an HTML page loads or links to: ``src``, ``href``, and ReDoc's ``spec-url``.
LOADED = re.compile(r"""\b(?:src|href|spec-url)=["']([^"']+)["']""")
PAGES = {"/docs": 4, "/redoc": 3}  # the page, and how many URLs it loads
#: RST inline markup, which Markdown renderers show as typed: ``x``, :class:`X`, ``::``.
RST = re.compile(r"``|:[a-z]+:`|::$", re.MULTILINE)

pytestmark = pytest.mark.anyio


def loaded(html: str) -> list[str]:
    return LOADED.findall(html) + re.findall(r"url: '([^']+)'", html)


@pytest.mark.parametrize("page", sorted(PAGES))
async def test_the_docs_pages_load_everything_from_this_server(
    client: httpx.AsyncClient, page: str
) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    urls = loaded(response.text)
    assert len(urls) == PAGES[page], urls
    elsewhere = [url for url in urls if not url.startswith("/") or url.startswith("//")]
    assert elsewhere == [], f"{page} loads from another host: {elsewhere}"
    for url in urls:
        served = await client.get(url)
        assert served.status_code == 200, url
        assert len(served.content) > 100, url


async def test_every_asset_is_served_with_its_type_and_nothing_else(
    client: httpx.AsyncClient,
) -> None:
    for name, (_, media_type) in ASSETS.items():
        response = await client.get(f"/docs/assets/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"].split(";")[0] == media_type
        assert "max-age" in response.headers["cache-control"]
    for name in ("README.md", "LICENSE", "..%2Fapp.py", "swagger-ui%2FLICENSE"):
        response = await client.get(f"/docs/assets/{name}")
        assert response.status_code == 404, name
        assert response.headers["content-type"] == "application/problem+json"


async def test_the_docs_pages_honour_the_root_path(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app, root_path="/rolegate")
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for page in PAGES:
            urls = loaded((await client.get(page)).text)
            assert all(url.startswith("/rolegate/") for url in urls), urls


async def test_the_oauth2_redirect_page_is_served(client: httpx.AsyncClient) -> None:
    docs = (await client.get("/docs")).text
    assert "oauth2RedirectUrl: window.location.origin + '/docs/oauth2-redirect'" in docs
    response = await client.get("/docs/oauth2-redirect")
    assert response.status_code == 200
    assert "swaggerUIRedirectOauth2" in response.text


def descriptions(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Every ``description`` and ``summary`` in an OpenAPI document, with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("description", "summary") and isinstance(value, str):
                yield f"{where}/{key}", value
            else:
                yield from descriptions(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from descriptions(value, f"{where}/{index}")


async def test_no_openapi_description_is_rst(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    found = list(descriptions(spec))
    assert len(found) > 100
    rst = [f"{where}: {text!r}" for where, text in found if RST.search(text)]
    assert rst == [], "descriptions in RST, which the docs show literally:\n" + "\n".join(rst)
