"""Every error is an RFC 9457 problem document, from one table, with nothing leaked."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from rolegate import (
    ConcurrentChange,
    InheritanceCycle,
    InvalidConfiguration,
    InvalidCredentials,
    RefreshTokenReused,
    RolegateError,
    SchemaNotCurrent,
    StorageError,
    UserNotFound,
)
from rolegate.api.app import MAX_BODY_BYTES
from rolegate.api.problems import PROBLEMS, problem_of
from tests.factories import assert_problem

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("error", "status", "slug"),
    [
        (UserNotFound("bob"), 404, "not_found"),
        (InheritanceCycle(["a", "b", "a"], tenant="acme"), 409, "conflict"),
        (ConcurrentChange("busy"), 409, "concurrent_change"),
        (InvalidCredentials(), 401, "unauthenticated"),
        (RefreshTokenReused(), 401, "invalid_token"),
        (InvalidConfiguration("ROLEGATE_TOKEN_SECRET is too short"), 500, "server_misconfigured"),
        (SchemaNotCurrent(None, "0004"), 503, "schema_not_current"),
        (StorageError("disk full"), 503, "storage_unavailable"),
        (RolegateError("new kind"), 500, "internal_error"),
    ],
)
def test_the_nearest_class_in_the_table_decides(
    error: RolegateError, status: int, slug: str
) -> None:
    problem = problem_of(error)
    assert (problem.status, problem.slug) == (status, slug)
    assert problem.uri == f"https://rolegate.dev/problems/{slug}"


def test_every_type_uri_names_one_status() -> None:
    statuses: dict[str, int] = {}
    for problem in PROBLEMS.values():
        assert statuses.setdefault(problem.uri, problem.status) == problem.status


async def test_an_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nothing-here")
    assert_problem(response, 404, "not_found")


async def test_a_wrong_method_is_a_405_problem_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/auth/login")
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"


#: The methods a wrong-method request is tried with (every one a path does not declare).
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
#: Fills every path parameter: a UUID, so that typed parameters match too.
PARAMETER = "00000000-0000-4000-8000-000000000000"


def declared_methods(app: FastAPI) -> dict[str, set[str]]:
    """Every path template of ``app`` and the methods its routes declare, together."""
    methods: dict[str, set[str]] = defaultdict(set)
    for route in iter_route_contexts(app.routes):
        methods[route.path_format] |= route.methods or set()
    return methods


async def test_a_405_allows_every_method_of_the_path(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    wrong = []
    for template, declared in declared_methods(app).items():
        path = re.sub(r"\{[^}]+\}", PARAMETER, template)
        for method in sorted(set(METHODS) - declared):
            response = await client.request(method, path)
            if method != "HEAD":  # a HEAD answer has no body to read a problem from
                assert_problem(response, 405, "method_not_allowed")
            assert response.status_code == 405, (method, path)
            if set(response.headers["allow"].split(", ")) != declared:
                wrong.append(f"{method} {template}: Allow {response.headers['allow']}")
    assert wrong == [], "405s whose Allow is not every method of the path"


async def test_options_on_the_tenants_lists_get_and_post(client: httpx.AsyncClient) -> None:
    response = await client.options("/v1/tenants")
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET, POST"


async def test_malformed_json_is_a_422_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/auth/login", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 422, "invalid_request")


async def test_a_declared_oversized_body_is_refused_before_it_is_read(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/v1/auth/login", content=b"x" * (MAX_BODY_BYTES + 1))
    assert_problem(response, 413, "content_too_large")


async def test_a_streamed_oversized_body_is_refused_as_it_arrives(
    client: httpx.AsyncClient,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b" " * 65536  # no Content-Length: chunked, counted as it comes

    response = await client.post(
        "/v1/auth/login", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "content_too_large")


async def test_an_unparsable_content_length_is_a_400(app: FastAPI) -> None:
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/auth/login",
        "raw_path": b"/v1/auth/login",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-length", b"-5")],
        "client": ("203.0.113.5", 1234),
        "server": ("testserver", 80),
        "state": {},
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    assert sent[0]["status"] == 400


async def test_an_unexpected_error_is_a_generic_500(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    def explode() -> None:
        raise KeyError("SELECT password_hash FROM users")

    app.add_api_route("/explode", explode)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/explode")
    body = assert_problem(response, 500, "internal_error")
    assert "password_hash" not in response.text and "KeyError" not in response.text
    assert body["detail"] == "an unexpected error occurred"
    assert "password_hash" in caplog.text  # the log has what the client must not see


async def test_openapi_and_docs_are_served(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    assert spec["info"]["title"] == "rolegate"
    assert "/v1/auth/login" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200
