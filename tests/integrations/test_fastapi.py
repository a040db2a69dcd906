"""The FastAPI integration on a real app, real tokens and a real Rolegate of each backend."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel

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


class DocumentCreate(BaseModel):
    title: str
    pages: int


def failing_app(rg: Rolegate, *, problem_details: bool = True) -> FastAPI:
    """An app protected by rolegate whose endpoints validate a body, raise, and refuse."""
    app = FastAPI()
    install(
        app, verifier=LocalVerifier(rg), decider=LocalDecider(rg), problem_details=problem_details
    )

    @app.post("/documents")
    def create_document(body: DocumentCreate) -> dict[str, str]:
        return {"title": body.title}

    @app.get("/documents/{number}")
    def read_document(number: int) -> dict[str, int]:
        raise HTTPException(410, f"document {number} was shredded")

    @app.get("/broken")
    def broken() -> str:
        raise ValueError("secret row 42 in /srv/app/db.py")

    @app.get("/secured", dependencies=[Depends(require_permission("documents:read"))])
    def secured() -> str:
        return "in"

    return app


@pytest.fixture
async def failing(rg: Rolegate) -> AsyncIterator[httpx.AsyncClient]:
    """A client of :func:`failing_app`, problem details on; app exceptions answer, not raise."""
    async with client_of(failing_app(rg), raise_app_exceptions=False) as client:
        yield client


async def test_a_validation_error_is_a_422_problem_listing_every_error(
    failing: httpx.AsyncClient,
) -> None:
    response = await failing.post("/documents", json={"pages": "many"})
    body = assert_problem(response, 422, "invalid_request")
    assert body["type"] == "https://rolegate.dev/problems/invalid_request"
    assert body["detail"] == "the request is not valid (2 errors)"
    assert {(e["field"], e["type"]) for e in body["errors"]} == {
        ("body.title", "missing"),
        ("body.pages", "int_parsing"),
    }


async def test_an_apps_http_exception_is_a_problem_with_its_detail(
    failing: httpx.AsyncClient,
) -> None:
    body = assert_problem(await failing.get("/documents/7"), 410, "http_410")
    assert body["detail"] == "document 7 was shredded"


async def test_an_unknown_route_is_a_404_problem(failing: httpx.AsyncClient) -> None:
    body = assert_problem(await failing.get("/nowhere"), 404, "not_found")
    assert body["type"] == "https://rolegate.dev/problems/not_found"


async def test_a_wrong_method_is_a_405_problem_with_allow(failing: httpx.AsyncClient) -> None:
    response = await failing.delete("/documents")
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "POST"


async def test_a_raising_endpoint_is_a_500_problem_that_says_nothing_of_the_cause(
    failing: httpx.AsyncClient,
) -> None:
    body = assert_problem(await failing.get("/broken"), 500, "internal_error")
    assert body["detail"] == "an unexpected error occurred"
    assert "secret row 42" not in json.dumps(body)


async def test_problem_details_off_keeps_fastapis_own_errors(rg: Rolegate) -> None:
    app = failing_app(rg, problem_details=False)
    async with client_of(app, raise_app_exceptions=False) as client:
        invalid = await client.post("/documents", json={})
        assert (invalid.status_code, invalid.headers["content-type"]) == (422, "application/json")
        assert invalid.json()["detail"][0]["type"] == "missing"
        assert (await client.get("/nowhere")).json() == {"detail": "Not Found"}
        broken = await client.get("/broken")
        assert (broken.status_code, broken.text) == (500, "Internal Server Error")
        assert_problem(await client.get("/secured"), 401, "authentication_failed")
