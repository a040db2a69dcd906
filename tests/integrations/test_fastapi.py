"""The FastAPI integration on a real app, real tokens and a real Rolegate of each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI

from rolegate import InvalidName, Principal, Rolegate
from rolegate.integrations import LocalDecider, LocalVerifier
from rolegate.integrations.fastapi import CurrentPrincipal, install, require_permission
from tests.factories import FakeClock, assert_problem
from tests.integrations.conftest import Login

pytestmark = pytest.mark.anyio

# What an application writes, at import time, before any app exists (STYLE habit 11).
CanReadDocuments = Annotated[Principal, Depends(require_permission("documents:read"))]


def documents_app(rg: Rolegate, *, installed: bool = True) -> FastAPI:
    """A small documents API protected three ways: an alias, ``dependencies=``, and
    authentication only."""
    app = FastAPI()
    if installed:
        install(app, verifier=LocalVerifier(rg), decider=LocalDecider(rg))

    @app.get("/documents")
    def list_documents(principal: CanReadDocuments) -> dict[str, Any]:
        return {"user": str(principal.user_id), "tenant": str(principal.tenant_id)}

    @app.post(
        "/documents", status_code=201, dependencies=[Depends(require_permission("documents:write"))]
    )
    def create_document() -> dict[str, str]:
        return {"created": "yes"}

    @app.get("/me")
    def me(principal: CurrentPrincipal) -> dict[str, str]:
        return {"user": str(principal.user_id)}

    return app


@pytest.fixture
def anyio_backend() -> str:
    """Apps are served on asyncio (uvicorn's loop)."""
    return "asyncio"


def client_of(app: FastAPI, *, raise_app_exceptions: bool = True) -> httpx.AsyncClient:
    """An HTTP client that talks to ``app`` in memory."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def client(documents: Rolegate) -> AsyncIterator[httpx.AsyncClient]:
    """A client of :func:`documents_app` on the documents policy."""
    async with client_of(documents_app(documents)) as client:
        yield client


async def test_a_holder_of_the_permission_gets_in_as_itself(
    client: httpx.AsyncClient, documents: Rolegate, login: Login
) -> None:
    response = await client.get("/documents", headers=login("alice"))
    assert response.status_code == 200, response.text
    alice, acme = documents.users.get("alice"), documents.tenants.get("acme")
    assert response.json() == {"user": str(alice.id), "tenant": str(acme.id)}


async def test_an_authenticated_user_without_the_permission_gets_a_403_problem(
    client: httpx.AsyncClient, login: Login
) -> None:
    response = await client.get("/documents", headers=login("bob"))
    body = assert_problem(response, 403, "permission_denied")
    assert body["permission"] == "documents:read"
    assert body["type"] == "https://rolegate.dev/problems/forbidden"


async def test_the_permission_is_checked_in_the_tokens_tenant(
    client: httpx.AsyncClient, login: Login
) -> None:
    # alice reads in acme, but her globex token speaks for globex, where she holds nothing.
    response = await client.get("/documents", headers=login("alice", tenant="globex"))
    assert_problem(response, 403, "permission_denied")


async def test_dependencies_in_the_route_decorator_refuse_too(
    client: httpx.AsyncClient, login: Login
) -> None:
    assert_problem(
        await client.post("/documents", headers=login("alice")), 403, "permission_denied"
    )


@pytest.mark.parametrize(
    ("authorization", "code", "challenge"),
    [
        (None, "authentication_failed", "Bearer"),
        ("Basic YWxpY2U6cHc=", "authentication_failed", "Bearer"),
        ("Bearer not-a-token", "invalid_token", 'Bearer error="invalid_token"'),
        ("Bearer eyJhbGciOiJub25lIn0.e30.", "invalid_token", 'Bearer error="invalid_token"'),
    ],
)
@pytest.mark.parametrize("path", ["/documents", "/me"])
async def test_no_or_a_bad_token_is_a_401_problem_with_a_challenge(
    client: httpx.AsyncClient, path: str, authorization: str | None, code: str, challenge: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await client.get(path, headers=headers)
    assert_problem(response, 401, code)
    assert response.headers["WWW-Authenticate"] == challenge


async def test_an_expired_token_is_refused(
    client: httpx.AsyncClient, login: Login, clock: FakeClock
) -> None:
    headers = login("alice")
    assert (await client.get("/documents", headers=headers)).status_code == 200
    clock.advance(timedelta(minutes=10, seconds=11))  # the TTL and the leeway
    assert_problem(await client.get("/documents", headers=headers), 401, "invalid_token")


async def test_a_revoked_session_is_refused_on_its_next_request(
    client: httpx.AsyncClient, documents: Rolegate, login: Login
) -> None:
    headers = login("alice")
    assert (await client.get("/documents", headers=headers)).status_code == 200
    documents.auth.revoke_all("alice")
    assert_problem(await client.get("/documents", headers=headers), 401, "invalid_token")


async def test_a_decider_that_cannot_decide_is_a_503_never_a_200(
    client: httpx.AsyncClient, login: Login, database_down: Callable[[], None]
) -> None:
    headers = login("alice")
    assert (await client.get("/me", headers=headers)).status_code == 200  # the token is verified
    database_down()
    response = await client.get("/documents", headers=headers)
    body = assert_problem(response, 503, "decision_unavailable")
    assert body["detail"] == "Authorization unavailable"  # the cause is logged, not sent


async def test_current_principal_needs_authentication_only(
    client: httpx.AsyncClient, login: Login
) -> None:
    assert (await client.get("/me", headers=login("bob"))).status_code == 200


async def test_an_app_that_was_never_installed_fails_closed(
    documents: Rolegate, login: Login
) -> None:
    app = documents_app(documents, installed=False)
    async with client_of(app, raise_app_exceptions=False) as client:
        assert (await client.get("/documents", headers=login("alice"))).status_code == 500


def test_a_malformed_permission_name_fails_at_import_time() -> None:
    with pytest.raises(InvalidName):
        require_permission("Documents Read")


async def test_the_bearer_scheme_is_declared_in_openapi(client: httpx.AsyncClient) -> None:
    openapi = (await client.get("/openapi.json")).json()
    assert openapi["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


async def test_a_refusal_is_in_the_audit_trail_with_the_requests_origin(
    client: httpx.AsyncClient, documents: Rolegate, login: Login
) -> None:
    headers = {**login("bob"), "User-Agent": "docs-client/2", "X-Request-ID": "req-42"}
    assert (await client.get("/documents", headers=headers)).status_code == 403
    assert documents.decisions is not None
    documents.decisions.trail.flush()
    [event] = documents.audit.events(tenant="acme", action="authz.denied").items
    bob = str(documents.users.get("bob").id)
    assert (event.actor, event.target_id, event.details["route"]) == (bob, bob, "GET /documents")
    assert (event.user_agent, event.request_id, event.actor_ip) == (
        "docs-client/2",
        "req-42",
        "127.0.0.1",
    )
