"""The discovery document, and a JWKS that publishes a key from the first start."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import select

from rolegate import Rolegate
from rolegate.api import create_app
from rolegate.api.app import create_app_from_settings
from rolegate.db.models import ACCESS_TOKEN_KEY, SigningKeyRecord
from tests.factories import FAST_HASHER, AuthActions

PROXY = ("203.0.113.5", 1234)  # the socket address of the proxy in front of the app
# The fake clock stands in 2026: only the signature is at issue here, not the token's times.
SIGNATURE_ONLY: dict[str, Any] = {"verify_exp": False, "verify_iat": False, "verify_nbf": False}


@dataclass(frozen=True)
class StoredToken:
    """What a test needs of a stored token key."""

    algorithm: str
    public_jwk: dict[str, Any]
    is_retired: bool


def token_keys(rg: Rolegate) -> list[StoredToken]:
    """Every stored access-token key, read from the database itself."""
    with rg.db.reading() as session:
        query = select(SigningKeyRecord).where(SigningKeyRecord.purpose == ACCESS_TOKEN_KEY)
        return [
            StoredToken(row.algorithm, row.public_jwk, row.retired_at is not None)
            for row in session.scalars(query)
        ]


@pytest.mark.anyio
async def test_a_fresh_databases_jwks_has_a_key_before_any_login(
    rg: Rolegate, client: httpx.AsyncClient
) -> None:
    assert token_keys(rg) == []
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    (key,) = response.json()["keys"]
    assert key["kid"] and key["alg"] == rg.settings.token_algorithm and key["use"] == "sig"
    again = await client.get("/.well-known/jwks.json")
    assert again.json()["keys"] == [key]  # made once, not on every request


@pytest.mark.anyio
async def test_a_token_issued_later_verifies_with_a_key_from_that_jwks(
    alice: Rolegate, client: httpx.AsyncClient, auth: AuthActions
) -> None:
    published = (await client.get("/.well-known/jwks.json")).json()
    tokens = await auth.login()
    kid = jwt.get_unverified_header(tokens["access_token"])["kid"]
    (jwk,) = [key for key in published["keys"] if key["kid"] == kid]
    key = jwt.PyJWK(jwk)
    claims = jwt.decode(
        tokens["access_token"],
        key,
        algorithms=[jwk["alg"]],
        audience=alice.settings.token_audience,
        issuer=alice.settings.token_issuer,
        options=SIGNATURE_ONLY,
    )
    assert claims["sub"] and claims["iss"] == alice.settings.token_issuer


@pytest.mark.anyio
async def test_discovery_names_the_issuer_and_where_its_keys_are(
    rg: Rolegate, client: httpx.AsyncClient
) -> None:
    response = await client.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    document = response.json()
    assert document["issuer"] == rg.settings.token_issuer
    assert document["jwks_uri"] == "http://testserver/.well-known/jwks.json"
    assert document["token_endpoint"] == "http://testserver/v1/auth/login"
    assert document["id_token_signing_alg_values_supported"] == [rg.settings.token_algorithm]
    assert document["response_types_supported"] == ["token"]
    assert document["subject_types_supported"] == ["public"]
    assert document["token_endpoint_auth_methods_supported"] == ["none"]
    keys = await client.get(document["jwks_uri"])
    assert keys.status_code == 200 and keys.json() == rg.auth.jwks()
    assert keys.json()["keys"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("trusted", "expected"),
    [
        (["203.0.113.0/24"], "https://auth.example.com/.well-known/jwks.json"),
        ([], "http://testserver/.well-known/jwks.json"),  # a client cannot choose the URL
    ],
)
async def test_jwks_uri_is_where_a_trusted_proxy_says_the_client_asked(
    rg: Rolegate, trusted: list[str], expected: str
) -> None:
    transport = httpx.ASGITransport(app=create_app(rg, trusted_proxies=trusted), client=PROXY)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get(
            "/.well-known/openid-configuration",
            headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "auth.example.com"},
        )
    assert response.json()["jwks_uri"] == expected


def test_the_server_has_a_signing_key_from_its_start(
    rg: Rolegate, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROLEGATE_DATABASE_URL", database_url)
    app = create_app_from_settings()
    try:
        (key,) = token_keys(rg)  # before any request, login or JWKS fetch
        assert not key.is_retired and key.algorithm == rg.settings.token_algorithm
    finally:
        app.state.rolegate.close()


@pytest.fixture
def nodes(database_url: str) -> Iterator[list[Rolegate]]:
    """Four processes' worth of Rolegates on one database."""
    started = [Rolegate(database_url, hasher=FAST_HASHER) for _ in range(4)]
    try:
        yield started
    finally:
        for node in started:
            node.close()


def test_nodes_starting_together_make_one_key(rg: Rolegate, nodes: list[Rolegate]) -> None:
    barrier = threading.Barrier(len(nodes))
    answers: list[dict[str, Any]] = []

    def start(node: Rolegate) -> None:
        barrier.wait()
        answers.append(node.auth.jwks())

    threads = [threading.Thread(target=start, args=(node,)) for node in nodes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (key,) = token_keys(rg)
    assert [answer["keys"] for answer in answers] == [[key.public_jwk]] * len(nodes)
