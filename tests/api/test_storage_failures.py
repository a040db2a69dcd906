"""A database that fails at any point of a request answers a 503 ``storage_unavailable`` problem
with ``Retry-After``, never another 5xx; a change whose COMMIT lost its connection says that its
outcome is unknown. The failures are real: a TCP proxy between rolegate and PostgreSQL severs the
connection at the chosen moment (an engine event places the cut), and a SQLite file is made
unreadable."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from rolegate import Rolegate
from rolegate.api import create_app
from tests.api.conftest import PEER
from tests.factories import FAST_HASHER, PASSWORD, FakeClock, assert_problem, bootstrap_admin
from tests.netproxy import TcpProxy, proxy_to

pytestmark = pytest.mark.anyio

ROLES = "/v1/tenants/acme/roles"
ON_POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@dataclass
class CutOff:
    """A Rolegate whose every connection to PostgreSQL runs through ``proxy``, its HTTP app, and
    the headers of a platform admin."""

    proxy: TcpProxy
    rg: Rolegate
    client: httpx.AsyncClient
    admin: dict[str, str] = field(default_factory=dict)

    def cut_at(self, event_name: str, *, statement: str = "") -> threading.Event:
        """Cut the connection when the engine next fires ``event_name`` (on a statement
        containing ``statement``, for ``before_cursor_execute``); the event returned is set
        once it did."""
        fired = threading.Event()

        def cut(*args: Any) -> None:
            is_match = event_name != "before_cursor_execute" or statement in args[2]
            if is_match and not fired.is_set():
                fired.set()
                self.proxy.cut()

        event.listen(self.rg.db.engine, event_name, cut)
        return fired


@pytest.fixture
async def cut_off(database_url: str, clock: FakeClock) -> AsyncIterator[CutOff]:
    """A :class:`CutOff` on ``database_url``, healed and closed at the end."""
    with proxy_to(database_url) as (proxy, url):
        rg = Rolegate(url, hasher=FAST_HASHER, clock=clock)
        try:
            bootstrap_admin(rg)
            rg.tenants.create("acme")
            transport = httpx.ASGITransport(app=create_app(rg), client=PEER)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                login = {"username": "root", "password": PASSWORD, "tenant": "platform"}
                tokens = (await client.post("/v1/auth/login", json=login)).json()
                admin = {"Authorization": f"Bearer {tokens['access_token']}"}
                yield CutOff(proxy, rg, client, admin)
        finally:
            proxy.heal()
            rg.close()


def assert_unavailable(response: httpx.Response, code: str = "storage_error") -> dict[str, Any]:
    """``response`` is the 503 a database failure answers, with ``Retry-After``."""
    body = assert_problem(response, 503, code)
    assert body["type"] == "https://rolegate.dev/problems/storage_unavailable"
    assert int(response.headers["Retry-After"]) > 0
    return body


def role_names(rg: Rolegate) -> set[str]:
    return {role.name for role in rg.roles.list("acme")}


@ON_POSTGRESQL
async def test_a_refused_connection_answers_503(cut_off: CutOff) -> None:
    cut_off.proxy.cut()  # pooled connections die, new ones are refused
    for response in (
        await cut_off.client.post(ROLES, json={"name": "editor"}, headers=cut_off.admin),
        await cut_off.client.get(ROLES, headers=cut_off.admin),
    ):
        body = assert_unavailable(response)
        assert "commit_outcome" not in body
    cut_off.proxy.heal()
    assert "editor" not in role_names(cut_off.rg)


@ON_POSTGRESQL
@pytest.mark.parametrize(
    ("method", "path", "statement"),
    [
        ("POST", ROLES, "FROM policy_state"),  # the guard catching up, before the token check
        ("POST", ROLES, "INSERT INTO roles"),  # the service's write
        ("POST", ROLES, "INSERT INTO audit_events"),  # the audit event in the same transaction
        ("GET", ROLES, "FROM roles"),  # a read
    ],
)
async def test_a_connection_lost_during_a_statement_answers_503(
    cut_off: CutOff, method: str, path: str, statement: str
) -> None:
    fired = cut_off.cut_at("before_cursor_execute", statement=statement)
    body = {"name": "editor"} if method == "POST" else None
    response = await cut_off.client.request(method, path, json=body, headers=cut_off.admin)
    assert fired.is_set()
    assert "commit_outcome" not in assert_unavailable(response)
    cut_off.proxy.heal()
    assert "editor" not in role_names(cut_off.rg)  # rolled back: nothing was applied


@ON_POSTGRESQL
async def test_a_connection_lost_during_commit_says_the_outcome_is_unknown(
    cut_off: CutOff,
) -> None:
    fired = cut_off.cut_at("commit")  # just before COMMIT goes out
    response = await cut_off.client.post(ROLES, json={"name": "editor"}, headers=cut_off.admin)
    assert fired.is_set()
    body = assert_unavailable(response, "commit_outcome_unknown")
    assert body["commit_outcome"] == "unknown"
    assert "read the current state before retrying" in body["detail"]


@ON_POSTGRESQL
async def test_a_connection_lost_before_a_read_ends_answers_503(cut_off: CutOff) -> None:
    fired = cut_off.cut_at("rollback")  # a read's session ends with a rollback
    response = await cut_off.client.get(ROLES, headers=cut_off.admin)
    assert fired.is_set()
    assert_unavailable(response)


@ON_POSTGRESQL
async def test_the_server_serves_again_once_the_connection_is_back(cut_off: CutOff) -> None:
    cut_off.proxy.cut()
    assert_unavailable(await cut_off.client.get(ROLES, headers=cut_off.admin))
    cut_off.proxy.heal()
    response = await cut_off.client.post(ROLES, json={"name": "editor"}, headers=cut_off.admin)
    assert response.status_code == 201, response.text


# --- SQLite ------------------------------------------------------------------------------------


@pytest.fixture
def sqlite_file(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[Path, Rolegate]]:
    """A Rolegate on a SQLite file of its own, with acme and a platform admin."""
    path = tmp_path / "rolegate.db"
    path.write_bytes(sqlite_template.read_bytes())
    with Rolegate(f"sqlite:///{path}", hasher=FAST_HASHER) as rg:
        bootstrap_admin(rg)
        rg.tenants.create("acme")
        yield path, rg


async def test_an_unreadable_sqlite_file_answers_503(
    sqlite_file: tuple[Path, Rolegate],
) -> None:
    path, rg = sqlite_file
    transport = httpx.ASGITransport(app=create_app(rg), client=PEER)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        login = {"username": "root", "password": PASSWORD, "tenant": "platform"}
        tokens = (await client.post("/v1/auth/login", json=login)).json()
        admin = {"Authorization": f"Bearer {tokens['access_token']}"}
        rg.db.dispose()  # as a restarted process would, open the file afresh
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        path.write_bytes(os.urandom(8192))  # not a database any more
        for response in (
            await client.post(ROLES, json={"name": "editor"}, headers=admin),
            await client.get(ROLES, headers=admin),
        ):
            assert_unavailable(response)


# --- the edge's last resort --------------------------------------------------------------------


def real_driver_error(tmp_path: Path) -> sqlite3.Error:
    """A real error of a DB-API driver: sqlite3 opening a path that is a folder."""
    try:
        sqlite3.connect(tmp_path).execute("SELECT 1")
    except sqlite3.Error as exc:
        return exc
    raise AssertionError("a folder opened as a database")


async def test_a_database_error_no_layer_translated_still_answers_503(
    rg: Rolegate, tmp_path: Path
) -> None:
    error = real_driver_error(tmp_path)
    app = create_app(rg)

    async def failing_middleware(scope: Any, receive: Any, send: Any) -> None:
        raise error

    app.add_middleware(lambda inner: failing_middleware)
    transport = httpx.ASGITransport(app=app, client=PEER, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert_unavailable(await client.get("/healthz"))
