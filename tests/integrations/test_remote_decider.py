"""RemoteDecider: applications that ask a live rolegate server's check API, over real HTTP on a
local port, and fail closed (503, never access) whenever the server cannot answer for them."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from flask import Flask

from rolegate import Principal, Rolegate
from rolegate.api import create_app
from rolegate.authz.decision import Reason
from rolegate.integrations import RemoteJWKSVerifier
from rolegate.integrations._core import RemoteDecider
from rolegate.integrations.fastapi import install, require_permission
from rolegate.integrations.flask import RolegateFlask
from rolegate.integrations.flask import require_permission as flask_requires
from tests.api.test_serve import free_port
from tests.factories import PASSWORD, FakeClock, assert_problem, member_with_password
from tests.integrations.conftest import serving

CanReadDocuments = Annotated[Principal, Depends(require_permission("documents:read"))]

Headers = Callable[[str], dict[str, str]]


@pytest.fixture
def server(documents: Rolegate) -> Iterator[str]:
    """The rolegate HTTP service on ``documents`` (where svc holds ``rolegate:check`` in acme as
    its tenant-admin), served by uvicorn on a free local port in a thread; its base URL."""
    member_with_password(documents, "svc", tenant="acme")
    documents.assignments.assign("acme", "svc", "tenant-admin")
    with serving(create_app(documents)) as base_url:
        yield base_url


def token_of(rg: Rolegate, username: str, *, tenant: str = "acme") -> str:
    """A real access token, from a real login."""
    return rg.auth.login(username, PASSWORD, tenant=tenant).access_token


@pytest.fixture
def headers(documents: Rolegate) -> Headers:
    """The Authorization header of a user's fresh access token in acme."""
    return lambda username: {"Authorization": f"Bearer {token_of(documents, username)}"}


def jwks_verifier(server: str, clock: FakeClock) -> RemoteJWKSVerifier:
    """Verifies the server's tokens by its published keys, on the test's clock."""
    return RemoteJWKSVerifier(
        f"{server}/.well-known/jwks.json",
        issuer="rolegate",
        audience="rolegate",
        timer=lambda: clock.now.timestamp(),
    )


@pytest.fixture
def anyio_backend() -> str:
    """Apps are served on asyncio (uvicorn's loop)."""
    return "asyncio"


@asynccontextmanager
async def client_of(
    server: str, decider: RemoteDecider, clock: FakeClock
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an application of its own that trusts the rolegate server for everything
    (tokens by its JWKS, permissions by its check API through ``decider``), in memory; the
    application talks to the server over HTTP. Closes the verifier and ``decider`` after."""
    app = FastAPI()
    verifier = jwks_verifier(server, clock)
    install(app, verifier=verifier, decider=decider)

    @app.get("/documents")
    def list_documents(principal: CanReadDocuments) -> dict[str, str]:
        return {"user": str(principal.user_id)}

    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    finally:
        verifier.close()
        decider.close()


@pytest.fixture
async def client(
    server: str, documents: Rolegate, clock: FakeClock
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the application, whose decider asks ``server`` with svc's token."""
    decider = RemoteDecider(server, token=token_of(documents, "svc"))
    async with client_of(server, decider, clock) as client:
        yield client


@pytest.mark.anyio
async def test_a_holder_gets_in(
    client: httpx.AsyncClient, documents: Rolegate, headers: Headers
) -> None:
    response = await client.get("/documents", headers=headers("alice"))
    assert response.status_code == 200, response.text
    assert response.json() == {"user": str(documents.users.get("alice").id)}


@pytest.mark.anyio
async def test_a_member_without_the_permission_is_403(
    client: httpx.AsyncClient, headers: Headers
) -> None:
    response = await client.get("/documents", headers=headers("bob"))
    body = assert_problem(response, 403, "permission_denied")
    assert body["permission"] == "documents:read"


@pytest.mark.anyio
async def test_a_revoke_on_the_server_is_honoured_on_the_next_request(
    client: httpx.AsyncClient, documents: Rolegate, headers: Headers
) -> None:
    alice = headers("alice")
    assert (await client.get("/documents", headers=alice)).status_code == 200
    documents.assignments.unassign("acme", "alice", "reader")
    assert (await client.get("/documents", headers=alice)).status_code == 403


def unavailable(response: httpx.Response) -> dict[str, Any]:
    """``response`` is the 503 problem of a decision that could not be made."""
    return assert_problem(response, 503, "decision_unavailable")


@pytest.mark.anyio
async def test_a_server_that_is_down_is_503(
    server: str, documents: Rolegate, clock: FakeClock, headers: Headers
) -> None:
    nowhere = RemoteDecider(f"http://127.0.0.1:{free_port()}", token="whatever")
    async with client_of(server, nowhere, clock) as client:
        unavailable(await client.get("/documents", headers=headers("alice")))


@pytest.mark.anyio
async def test_a_server_that_does_not_answer_in_time_is_503(
    server: str, documents: Rolegate, clock: FakeClock, headers: Headers
) -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        slow = RemoteDecider(f"http://127.0.0.1:{port}", token="whatever", http_timeout=0.2)
        async with client_of(server, slow, clock) as client:
            started = time.monotonic()
            unavailable(await client.get("/documents", headers=headers("alice")))
            assert time.monotonic() - started < 5


@pytest.mark.anyio
@pytest.mark.parametrize("decider_user", ["bob", "revoked"])
async def test_a_decider_token_the_server_refuses_is_503_and_logged(
    server: str,
    documents: Rolegate,
    clock: FakeClock,
    headers: Headers,
    caplog: pytest.LogCaptureFixture,
    decider_user: str,
) -> None:
    if decider_user == "bob":
        token = token_of(documents, "bob")  # a member, without rolegate:check: 403
        status = "403 forbidden"
    else:
        token = token_of(documents, "svc")
        documents.auth.logout(documents.auth.verify(token))  # its session ended: 401
        status = "401 invalid_token"
    decider = RemoteDecider(server, token=token)
    async with client_of(server, decider, clock) as client:
        with caplog.at_level(logging.ERROR, logger="rolegate.integrations"):
            unavailable(await client.get("/documents", headers=headers("alice")))
    refused = [r for r in caplog.records if "refused this decider's token" in r.getMessage()]
    assert refused and status in refused[0].getMessage()
    assert token not in caplog.text  # the token is never logged


@pytest.mark.anyio
async def test_an_answer_that_is_not_a_check_answer_is_503(
    server: str, documents: Rolegate, clock: FakeClock, headers: Headers
) -> None:
    # A base URL one level off: the real server answers 404 for every check.
    astray = RemoteDecider(f"{server}/v1", token=token_of(documents, "svc"))
    async with client_of(server, astray, clock) as client:
        unavailable(await client.get("/documents", headers=headers("alice")))


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, json={"allowed": "yes"}),
        httpx.Response(200, json={"results": [{"allowed": True}]}),
        httpx.Response(200, text="<html>allowed</html>"),
        httpx.Response(302, headers={"Location": "/login"}),
        httpx.Response(500, json={"code": "internal_error"}),
    ],
    ids=["allowed not a boolean", "another shape", "not JSON", "a redirect", "a server error"],
)
def test_a_server_answering_anything_else_cannot_decide(
    documents: Rolegate, answer: httpx.Response
) -> None:
    # The outside world misbehaving (a proxy, another service on that address), not rolegate.
    transport = httpx.MockTransport(lambda request: answer)
    with httpx.Client(transport=transport) as impostor:
        decider = RemoteDecider("http://rolegate.internal", token="t", client=impostor)
        alice = documents.auth.verify(token_of(documents, "alice"))
        decision = decider.decide(alice, "documents:read")
    assert not decision.allowed and decision.reason is Reason.ERROR


def test_a_token_source_is_asked_on_every_decision(server: str, documents: Rolegate) -> None:
    issued: list[str] = []

    def current() -> str:
        issued.append(token_of(documents, "svc"))
        return issued[-1]

    decider = RemoteDecider(server, token=current)
    alice = documents.auth.verify(token_of(documents, "alice"))
    assert decider.decide(alice, "documents:read").allowed
    assert not decider.decide(alice, "documents:write").allowed
    assert len(issued) == 2
    decider.close()


@pytest.mark.parametrize(
    ("username", "working", "status"),
    [("alice", True, 200), ("bob", True, 403), ("alice", False, 503)],
)
def test_flask_with_a_remote_decider(
    server: str,
    documents: Rolegate,
    clock: FakeClock,
    headers: Headers,
    username: str,
    working: bool,
    status: int,
) -> None:
    base = server if working else f"http://127.0.0.1:{free_port()}"
    app = Flask("documents")
    verifier = jwks_verifier(server, clock)
    decider = RemoteDecider(base, token=token_of(documents, "svc"))
    RolegateFlask(app, verifier=verifier, decider=decider)

    @app.get("/documents")
    @flask_requires("documents:read")
    def list_documents() -> dict[str, str]:
        return {"ok": "yes"}

    response = app.test_client().get("/documents", headers=headers(username))
    verifier.close()
    decider.close()
    assert response.status_code == status
    if status != 200:
        assert response.mimetype == "application/problem+json"
