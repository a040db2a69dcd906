"""Probes and the public key set."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from rolegate import Rolegate
from tests.factories import assert_problem

pytestmark = pytest.mark.anyio

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k", "oth"}  # RFC 7518 §6


async def test_healthz_answers_without_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_names_the_schema_revision(rg: Rolegate, client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    ready, schema = rg.readiness()
    assert ready
    assert response.json() == {"status": "ready", "schema": schema}


async def test_readyz_is_503_when_the_schema_is_not_current(
    rg: Rolegate, client: httpx.AsyncClient
) -> None:
    _, schema = rg.readiness()
    with rg.db.engine.begin() as connection:  # as if a newer rolegate had migrated past us
        connection.execute(text("UPDATE alembic_version SET version_num = 'f00d'"))
    try:
        response = await client.get("/readyz")
        body = assert_problem(response, 503, "not_ready")
        assert "f00d" in body["detail"]
        with rg.db.engine.begin() as connection:
            connection.execute(text("DELETE FROM alembic_version"))
        empty = await client.get("/readyz")
        assert "none" in assert_problem(empty, 503, "not_ready")["detail"]
    finally:
        with rg.db.engine.begin() as connection:  # the PostgreSQL database is shared
            connection.execute(text("DELETE FROM alembic_version"))
            connection.execute(
                text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": schema}
            )


async def test_jwks_publishes_only_public_members(rg: Rolegate, client: httpx.AsyncClient) -> None:
    rg.keys.rotate()
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    keys = response.json()["keys"]
    assert keys and all(key["kid"] and key["kty"] for key in keys)
    assert not any(PRIVATE_MEMBERS & set(key) for key in keys)
    assert response.json() == rg.auth.jwks()
