"""``/metrics``: Prometheus text with requests by route template and status, latency, logins by
result, the authorization cache and the decision trail; only for holders of
``rolegate:metrics:read`` in the platform tenant (or on a listener of its own: test_serve.py)."""

from __future__ import annotations

import re
import socket

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from prometheus_client.parser import text_string_to_metric_families

from rolegate import Rolegate
from rolegate.api import create_app
from rolegate.api.metrics import Metrics
from rolegate.api.metrics_listener import metrics_listener
from rolegate.config import Settings
from rolegate.errors import InvalidConfiguration
from tests.factories import (
    FAST_HASHER,
    AuthActions,
    assert_problem,
    member_with_password,
    metrics_scraper,
)

pytestmark = pytest.mark.anyio


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition, keyed by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
def scraper(rg: Rolegate) -> dict[str, str]:
    """The bearer header of a platform member holding ``rolegate:metrics:read``."""
    return metrics_scraper(rg)


async def scrape(
    client: httpx.AsyncClient, scraper: dict[str, str]
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics", headers=scraper)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(response.text)


async def test_requests_are_counted_by_route_template_and_status(
    client: httpx.AsyncClient, alice: Rolegate, auth: AuthActions, scraper: dict[str, str]
) -> None:
    tokens = await auth.login()
    sessions = await client.get("/v1/auth/sessions", headers=auth.bearer(tokens))
    session_id = sessions.json()[0]["id"]
    await client.delete(f"/v1/auth/sessions/{session_id}", headers=auth.bearer(tokens))
    await client.get("/no/such/path/12345")

    found = await scrape(client, scraper)

    def requests(method: str, route: str, status: str) -> float:
        labels = (("method", method), ("route", route), ("status", status))
        return found.get(("rolegate_http_requests_total", labels), 0.0)

    assert requests("POST", "/v1/auth/login", "200") == 1
    assert requests("DELETE", "/v1/auth/sessions/{session_id}", "204") == 1
    assert requests("GET", "unmatched", "404") == 1
    assert not any(session_id in name or session_id in str(labels) for name, labels in found)
    count = found[
        (
            "rolegate_http_request_duration_seconds_count",
            (("method", "POST"), ("route", "/v1/auth/login")),
        )
    ]
    assert count == 1


#: The schema FastAPI adds, and the docs pages rolegate serves with their assets.
DOCS_ROUTES = ("/docs", "/openapi.json", "/docs/oauth2-redirect", "/redoc")
ASSET = "/docs/assets/swagger-ui.css"
ASSET_ROUTE = "/docs/assets/{name}"


async def test_the_docs_routes_are_counted_by_their_path(
    app: FastAPI, client: httpx.AsyncClient, scraper: dict[str, str]
) -> None:
    served = {route.path_format for route in iter_route_contexts(app.routes)}
    assert served >= set(DOCS_ROUTES)
    for path in DOCS_ROUTES:
        assert (await client.get(path)).status_code == 200
    assert (await client.get(ASSET)).status_code == 200
    assert (await client.get("/docs/assets/nothing.js")).status_code == 404
    await client.post("/docs")

    found = await scrape(client, scraper)

    def requests(method: str, route: str, status: str) -> float:
        labels = (("method", method), ("route", route), ("status", status))
        return found.get(("rolegate_http_requests_total", labels), 0.0)

    assert {path: requests("GET", path, "200") for path in DOCS_ROUTES} == dict.fromkeys(
        DOCS_ROUTES, 1.0
    )
    assert requests("POST", "/docs", "405") == 1
    assert requests("GET", ASSET_ROUTE, "200") == 1
    assert requests("GET", ASSET_ROUTE, "404") == 1
    assert requests("GET", "unmatched", "200") == 0


async def test_logins_are_counted_by_result(
    client: httpx.AsyncClient, alice: Rolegate, auth: AuthActions, scraper: dict[str, str]
) -> None:
    await auth.login()
    for _ in range(2):
        await client.post(
            "/v1/auth/login",
            json={"username": "alice", "password": "wrong password!!", "tenant": "acme"},
        )

    found = await scrape(client, scraper)

    assert found[("rolegate_logins_total", (("result", "success"),))] == 1
    assert found[("rolegate_logins_total", (("result", "invalid_credentials"),))] == 2


async def test_the_authorization_cache_is_reported(
    client: httpx.AsyncClient, alice: Rolegate, scraper: dict[str, str]
) -> None:
    alice.permissions.create("acme", "documents:read")
    alice.roles.create("acme", "viewer", permissions=["documents:read"])
    alice.assignments.assign("acme", "alice", "viewer")
    assert alice.check("alice", "documents:read", tenant="acme")

    text = (await client.get("/metrics", headers=scraper)).text
    found = samples(text)

    assert found[("rolegate_authz_snapshots", ())] == alice.cache_stats().snapshots >= 1
    assert found[("rolegate_authz_compiles_total", ())] >= 1
    assert found[("rolegate_policy_revision", ())] == alice.revision
    assert not re.search(r"password|token", text, re.IGNORECASE)


async def test_the_decision_trail_is_reported(
    client: httpx.AsyncClient, alice: Rolegate, auth: AuthActions, scraper: dict[str, str]
) -> None:
    assert alice.decisions is not None
    before = await scrape(client, scraper)
    assert before[("rolegate_audit_decisions_written_total", ())] == 0
    assert before[("rolegate_audit_decisions_dropped_total", ())] == 0
    assert before[("rolegate_audit_decisions_buffered", ())] == 0

    for permission in ("documents:read", "documents:write"):
        assert not alice.check("alice", permission, tenant="acme")  # denied: recorded
    meanwhile = await scrape(client, scraper)  # the writer may have written some already
    written = meanwhile[("rolegate_audit_decisions_written_total", ())]
    assert written + meanwhile[("rolegate_audit_decisions_buffered", ())] == 2
    alice.decisions.trail.flush()

    after = await scrape(client, scraper)
    assert after[("rolegate_audit_decisions_written_total", ())] == 2
    assert after[("rolegate_audit_decisions_buffered", ())] == 0
    assert after[("rolegate_audit_decisions_dropped_total", ())] == 0


async def test_no_trail_is_reported_when_decisions_are_not_audited(database_url: str) -> None:
    settings = Settings(audit_decisions=False)
    with Rolegate(database_url, settings=settings, hasher=FAST_HASHER) as rg:
        scraper = metrics_scraper(rg)
        transport = httpx.ASGITransport(app=create_app(rg))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            found = await scrape(client, scraper)
    assert not any(name.startswith("rolegate_audit_") for name, _ in found)
    assert ("rolegate_authz_compiles_total", ()) in found


# --- who may read them -------------------------------------------------------------------------


async def test_metrics_need_a_bearer_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    assert_problem(response, 401, "authentication_failed")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "rolegate_http_requests" not in response.text


async def test_metrics_need_the_metrics_permission_in_the_platform_tenant(
    client: httpx.AsyncClient, alice: Rolegate, auth: AuthActions
) -> None:
    alice.assignments.assign("acme", "alice", "tenant-admin")  # every built-in, but in acme
    response = await client.get("/metrics", headers=auth.bearer(await auth.login()))
    body = assert_problem(response, 403, "forbidden")
    assert body["permission"] == "rolegate:metrics:read"


async def test_the_platform_tenant_admin_may_read_the_metrics(
    client: httpx.AsyncClient, rg: Rolegate, auth: AuthActions
) -> None:
    member_with_password(rg, "root", tenant="platform")
    rg.assignments.assign("platform", "root", "tenant-admin")
    tokens = await auth.login("root", tenant="platform")
    response = await client.get("/metrics", headers=auth.bearer(tokens))
    assert response.status_code == 200
    assert "rolegate_http_requests_total" in response.text


async def test_an_app_whose_metrics_are_served_elsewhere_has_no_metrics_route(
    rg: Rolegate, scraper: dict[str, str]
) -> None:
    transport = httpx.ASGITransport(app=create_app(rg, serve_metrics=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert (await client.get("/metrics", headers=scraper)).status_code == 404


async def test_a_metrics_address_in_use_is_a_clear_configuration_error(rg: Rolegate) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(InvalidConfiguration, match="metrics_address"):
            async with metrics_listener(Metrics(rg), address):
                pass


async def test_the_metrics_listener_serves_the_apps_registry(rg: Rolegate) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    instruments = Metrics(rg)
    instruments.record("GET", "/healthz", 200, 0.001)
    async with metrics_listener(instruments, f"127.0.0.1:{port}"):
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{port}/metrics")
            elsewhere = await client.get(f"http://127.0.0.1:{port}/v1/auth/me")
    assert response.status_code == 200 and elsewhere.status_code == 404
    found = samples(response.text)
    labels = (("method", "GET"), ("route", "/healthz"), ("status", "200"))
    assert found[("rolegate_http_requests_total", labels)] == 1
