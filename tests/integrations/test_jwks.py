"""RemoteJWKSVerifier against a live rolegate HTTP service, over real HTTP on a local port."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from rolegate import InvalidConfiguration, InvalidToken, Rolegate
from rolegate.api import create_app
from rolegate.integrations import LocalDecider, RemoteJWKSVerifier
from rolegate.integrations.flask import RolegateFlask, require_permission
from tests.factories import PASSWORD, FakeClock, assert_problem
from tests.integrations.conftest import serving


@pytest.fixture
def server(documents: Rolegate) -> Iterator[str]:
    """The rolegate HTTP service on ``documents``, served by uvicorn on a free local port, in a
    thread of this process (so it shares the test's clock); its base URL."""
    with serving(create_app(documents)) as base_url:
        yield base_url


class Fetches:
    """Counts the requests an HTTP client sends (the JWKS fetches)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, request: httpx.Request) -> None:
        self.count += 1


@pytest.fixture
def fetches() -> Fetches:
    """A counter of JWKS fetches."""
    return Fetches()


@pytest.fixture
def verifier(server: str, clock: FakeClock, fetches: Fetches) -> Iterator[RemoteJWKSVerifier]:
    """A verifier of the server's tokens, on the test's clock, counting its fetches."""
    with httpx.Client(timeout=5, event_hooks={"request": [fetches]}) as client:
        yield RemoteJWKSVerifier(
            f"{server}/.well-known/jwks.json",
            issuer="rolegate",
            audience="rolegate",
            client=client,
            timer=lambda: clock.now.timestamp(),
        )


def access_token(rg: Rolegate, username: str = "alice") -> str:
    """A real access token of ``username`` in acme."""
    return rg.auth.login(username, PASSWORD, tenant="acme").access_token


def test_a_server_token_verifies_to_the_same_principal(
    verifier: RemoteJWKSVerifier, documents: Rolegate
) -> None:
    token = access_token(documents)
    assert verifier.verify(token) == documents.auth.verify(token)


def test_an_unknown_kid_refetches_the_keys_at_most_once_per_ten_seconds(
    verifier: RemoteJWKSVerifier, documents: Rolegate, clock: FakeClock, fetches: Fetches
) -> None:
    verifier.verify(access_token(documents))
    assert fetches.count == 1
    documents.keys.rotate()
    rotated = access_token(documents)  # signed by the new key
    with pytest.raises(InvalidToken):
        verifier.verify(rotated)  # the first fetch was just now: no refetch yet
    assert fetches.count == 1
    clock.advance(timedelta(seconds=10))
    assert verifier.verify(rotated).user_id == documents.users.get("alice").id
    assert fetches.count == 2
    verifier.verify(rotated)
    assert fetches.count == 2  # the new key is cached


def claims_and_kid(token: str) -> tuple[dict[str, Any], str]:
    """The claims and key id of a real token, read without verifying it, to forge from."""
    return jwt.decode(token, options={"verify_signature": False}), jwt.get_unverified_header(token)[
        "kid"
    ]


def forge(token: str, **changes: Any) -> str:
    """``token`` re-signed by a key the server never made (same ``kid``), claims changed."""
    claims, kid = claims_and_kid(token)
    key = ec.generate_private_key(ec.SECP256R1())
    headers = {"kid": kid, "typ": "at+jwt"}
    return jwt.encode({**claims, **changes}, key, algorithm="ES256", headers=headers)


def test_forged_tokens_are_refused(verifier: RemoteJWKSVerifier, documents: Rolegate) -> None:
    token = access_token(documents)
    claims, kid = claims_and_kid(token)
    forged = [
        forge(token),
        forge(token, sub=str(uuid.uuid4())),
        jwt.encode(claims, "", algorithm="none", headers={"kid": kid, "typ": "at+jwt"}),
        jwt.encode(claims, "k" * 32, algorithm="HS256", headers={"kid": kid, "typ": "at+jwt"}),
        token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"),
    ]
    for candidate in forged:
        with pytest.raises(InvalidToken):
            verifier.verify(candidate)


@pytest.mark.parametrize(
    ("issuer", "audience"), [("someone-else", "rolegate"), ("rolegate", "another-api")]
)
def test_a_token_for_another_issuer_or_audience_is_refused(
    server: str, documents: Rolegate, clock: FakeClock, issuer: str, audience: str
) -> None:
    verifier = RemoteJWKSVerifier(
        f"{server}/.well-known/jwks.json",
        issuer=issuer,
        audience=audience,
        timer=lambda: clock.now.timestamp(),
    )
    with pytest.raises(InvalidToken):
        verifier.verify(access_token(documents))
    verifier.close()


def test_an_expired_token_is_refused(
    verifier: RemoteJWKSVerifier, documents: Rolegate, clock: FakeClock
) -> None:
    token = access_token(documents)
    verifier.verify(token)
    clock.advance(timedelta(minutes=10, seconds=11))
    with pytest.raises(InvalidToken):
        verifier.verify(token)


def test_no_keys_refuses_every_token(documents: Rolegate, server: str) -> None:
    verifier = RemoteJWKSVerifier(f"{server}/no-such-jwks", issuer="rolegate", audience="rolegate")
    with pytest.raises(InvalidToken):
        verifier.verify(access_token(documents))
    verifier.close()


def test_keys_that_cannot_be_refreshed_go_stale_and_refuse(
    server: str, documents: Rolegate, clock: FakeClock, database_down: Callable[[], None]
) -> None:
    verifier = RemoteJWKSVerifier(
        f"{server}/.well-known/jwks.json",
        issuer="rolegate",
        audience="rolegate",
        max_age=60,
        timer=lambda: clock.now.timestamp(),
    )
    token = access_token(documents)
    verifier.verify(token)
    database_down()  # the server's JWKS endpoint now fails
    clock.advance(timedelta(seconds=59))
    assert verifier.verify(token)  # the keys are still fresh
    clock.advance(timedelta(seconds=2))
    with pytest.raises(InvalidToken):
        verifier.verify(token)
    verifier.close()


@pytest.mark.parametrize("algorithms", [("HS256",), ()])
def test_symmetric_or_no_algorithms_are_refused_at_construction(
    algorithms: tuple[str, ...],
) -> None:
    with pytest.raises(InvalidConfiguration):
        RemoteJWKSVerifier(
            "http://127.0.0.1:9/jwks", issuer="i", audience="a", algorithms=algorithms
        )


def test_a_flask_app_protected_by_remote_tokens(
    verifier: RemoteJWKSVerifier, documents: Rolegate
) -> None:
    from flask import Flask

    app = Flask(__name__)
    RolegateFlask(app, verifier=verifier, decider=LocalDecider(documents))

    @app.get("/documents")
    @require_permission("documents:read")
    def list_documents() -> list[str]:
        return []

    transport = httpx.WSGITransport(app=app)
    with httpx.Client(transport=transport, base_url="http://testserver") as client:
        alice = {"Authorization": f"Bearer {access_token(documents)}"}
        bob = {"Authorization": f"Bearer {access_token(documents, 'bob')}"}
        assert client.get("/documents", headers=alice).status_code == 200
        assert_problem(client.get("/documents", headers=bob), 403, "permission_denied")
