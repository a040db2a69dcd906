"""The Flask integration on a real app, real tokens and a real Rolegate of each backend."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta

import httpx
import pytest
from flask import Flask, abort, request
from werkzeug.datastructures import WWWAuthenticate

from rolegate import InvalidName, Rolegate
from rolegate.integrations import LocalDecider, LocalVerifier
from rolegate.integrations.flask import RolegateFlask, current_principal, require_permission
from tests.factories import FakeClock, assert_problem
from tests.integrations.conftest import Login


def documents_app(rg: Rolegate, *, installed: bool = True) -> Flask:
    """A small documents API: two decorated views and one that reads the principal only."""
    app = Flask(__name__)
    extension = RolegateFlask(verifier=LocalVerifier(rg), decider=LocalDecider(rg))
    if installed:
        extension.init_app(app)  # the app-factory way

    @app.get("/documents")
    @require_permission("documents:read")
    def list_documents() -> dict[str, str]:
        return {"user": str(current_principal.user_id), "tenant": str(current_principal.tenant_id)}

    @app.post("/documents")
    @require_permission("documents:write")
    def create_document() -> tuple[dict[str, str], int]:
        return {"created": "yes"}, 201

    @app.get("/me")
    def me() -> dict[str, str]:
        return {"user": str(current_principal.user_id)}

    return app


def client_of(app: Flask) -> httpx.Client:
    """An HTTP client that talks to ``app`` in memory, over WSGI."""
    return httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://testserver")


@pytest.fixture
def client(documents: Rolegate) -> Iterator[httpx.Client]:
    """A client of :func:`documents_app` on the documents policy."""
    with client_of(documents_app(documents)) as client:
        yield client


def test_the_decorated_view_runs_for_a_holder_and_sees_the_principal(
    client: httpx.Client, documents: Rolegate, login: Login
) -> None:
    response = client.get("/documents", headers=login("alice"))
    assert response.status_code == 200, response.text
    alice, acme = documents.users.get("alice"), documents.tenants.get("acme")
    assert response.json() == {"user": str(alice.id), "tenant": str(acme.id)}


def test_an_authenticated_user_without_the_permission_gets_a_403_problem(
    client: httpx.Client, login: Login
) -> None:
    body = assert_problem(client.get("/documents", headers=login("bob")), 403, "permission_denied")
    assert body["permission"] == "documents:read"
    assert_problem(client.post("/documents", headers=login("alice")), 403, "permission_denied")


def test_the_permission_is_checked_in_the_tokens_tenant(client: httpx.Client, login: Login) -> None:
    response = client.get("/documents", headers=login("alice", tenant="globex"))
    assert_problem(response, 403, "permission_denied")


@pytest.mark.parametrize(
    ("authorization", "code", "challenge"),
    [
        (None, "authentication_failed", "Bearer"),
        ("Basic YWxpY2U6cHc=", "authentication_failed", "Bearer"),
        ("Bearer not-a-token", "invalid_token", 'Bearer error="invalid_token"'),
    ],
)
@pytest.mark.parametrize("path", ["/documents", "/me"])
def test_no_or_a_bad_token_is_a_401_problem_with_a_challenge(
    client: httpx.Client, path: str, authorization: str | None, code: str, challenge: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get(path, headers=headers)
    assert_problem(response, 401, code)
    assert response.headers["WWW-Authenticate"] == challenge


def test_an_expired_token_is_refused(client: httpx.Client, login: Login, clock: FakeClock) -> None:
    headers = login("alice")
    assert client.get("/documents", headers=headers).status_code == 200
    clock.advance(timedelta(minutes=10, seconds=11))
    assert_problem(client.get("/documents", headers=headers), 401, "invalid_token")


def test_a_revoked_session_is_refused_on_its_next_request(
    client: httpx.Client, documents: Rolegate, login: Login
) -> None:
    headers = login("alice")
    assert client.get("/me", headers=headers).status_code == 200
    documents.auth.revoke_all("alice")
    assert_problem(client.get("/me", headers=headers), 401, "invalid_token")


def test_a_decider_that_cannot_decide_is_a_503_never_a_200(
    client: httpx.Client, login: Login, database_down: Callable[[], None]
) -> None:
    headers = login("alice")
    assert client.get("/me", headers=headers).status_code == 200
    database_down()
    assert_problem(client.get("/documents", headers=headers), 503, "decision_unavailable")


def test_an_app_without_the_extension_fails_closed(documents: Rolegate, login: Login) -> None:
    with client_of(documents_app(documents, installed=False)) as client:
        assert client.get("/documents", headers=login("alice")).status_code == 500
        assert client.get("/me", headers=login("alice")).status_code == 500


def test_a_malformed_permission_name_fails_at_import_time() -> None:
    with pytest.raises(InvalidName):
        require_permission("documents")


def test_a_refusal_is_in_the_audit_trail_with_the_requests_origin(
    client: httpx.Client, documents: Rolegate, login: Login
) -> None:
    headers = {**login("bob"), "User-Agent": "docs-client/2", "X-Request-ID": "req-42"}
    assert client.get("/documents", headers=headers).status_code == 403
    assert documents.decisions is not None
    documents.decisions.trail.flush()
    [event] = documents.audit.events(tenant="acme", action="authz.denied").items
    bob = str(documents.users.get("bob").id)
    assert (event.actor, event.target_id, event.details["route"]) == (bob, bob, "GET /documents")
    assert (event.user_agent, event.request_id) == ("docs-client/2", "req-42")


def failing_app(rg: Rolegate, *, problem_details: bool = True) -> Flask:
    """An app protected by the extension whose views abort, raise, and take POST only."""
    app = Flask(__name__)
    RolegateFlask(
        app, verifier=LocalVerifier(rg), decider=LocalDecider(rg), problem_details=problem_details
    )

    @app.post("/documents")
    def create_document() -> dict[str, str]:
        title = (request.get_json() or {}).get("title")  # a body that is not JSON is a 400
        if not isinstance(title, str):
            abort(422, "a JSON body with a string 'title' is required")
        return {"title": title}

    @app.get("/broken")
    def broken() -> str:
        raise ValueError("secret row 42 in /srv/app/db.py")

    @app.get("/secured")
    @require_permission("documents:read")
    def secured() -> str:
        return "in"

    @app.get("/private")
    def private() -> str:
        abort(401, www_authenticate=WWWAuthenticate("Basic", {"realm": "docs"}))

    return app


@pytest.fixture
def failing(rg: Rolegate) -> Iterator[httpx.Client]:
    """A client of :func:`failing_app`, problem details on."""
    with client_of(failing_app(rg)) as client:
        yield client


def test_abort_422_is_a_problem_with_the_views_detail(failing: httpx.Client) -> None:
    body = assert_problem(failing.post("/documents", json={}), 422, "invalid_request")
    assert body["detail"] == "a JSON body with a string 'title' is required"
    assert body["type"] == "https://rolegate.dev/problems/invalid_request"


def test_a_body_that_is_not_json_is_a_400_problem(failing: httpx.Client) -> None:
    response = failing.post(
        "/documents", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert assert_problem(response, 400, "bad_request")["type"].endswith("/bad_request")


def test_an_unknown_route_is_a_404_problem(failing: httpx.Client) -> None:
    body = assert_problem(failing.get("/nowhere"), 404, "not_found")
    assert body["title"] == "Not found"


def test_a_wrong_method_is_a_405_problem_with_allow(failing: httpx.Client) -> None:
    response = failing.delete("/documents")
    assert_problem(response, 405, "method_not_allowed")
    assert {m.strip() for m in response.headers["Allow"].split(",")} >= {"POST", "OPTIONS"}


def test_an_apps_own_401_keeps_its_challenge(failing: httpx.Client) -> None:
    response = failing.get("/private")
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Basic realm=")


def test_a_raising_view_is_a_500_problem_that_says_nothing_of_the_cause(
    failing: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    body = assert_problem(failing.get("/broken"), 500, "internal_error")
    assert body["detail"] == "an unexpected error occurred"
    assert "secret row 42" not in json.dumps(body)
    assert "secret row 42" in caplog.text  # Flask logged it, for the operator


def test_in_testing_mode_an_unhandled_exception_still_propagates(rg: Rolegate) -> None:
    app = failing_app(rg)
    app.testing = True
    with app.test_client() as client, pytest.raises(ValueError, match="secret row 42"):
        client.get("/broken")


def test_problem_details_off_keeps_flasks_own_error_pages(rg: Rolegate) -> None:
    with client_of(failing_app(rg, problem_details=False)) as client:
        for response, status in (
            (client.post("/documents", json={}), 422),
            (client.get("/nowhere"), 404),
            (client.delete("/documents"), 405),
            (client.get("/broken"), 500),
        ):
            assert response.status_code == status
            assert response.headers["content-type"].startswith("text/html")
        assert "Allow" in client.delete("/documents").headers
        assert_problem(client.get("/secured"), 401, "authentication_failed")  # still refusals
