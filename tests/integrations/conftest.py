"""Fixtures for the framework integrations: a documents policy on each backend, real access
tokens from ``rg.auth.login``, and a way to take the database away."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from starlette.types import ASGIApp

from rolegate import Rolegate
from tests.api.test_serve import free_port
from tests.factories import PASSWORD, member_with_password

Login = Callable[..., dict[str, str]]


@pytest.fixture
def documents(rg: Rolegate) -> Rolegate:
    """``rg`` with tenant acme where alice is a reader (``documents:read``) and bob a member
    with no role; alice is also a member of globex, with no role there."""
    member_with_password(rg, "alice", tenant="acme")
    member_with_password(rg, "bob", tenant="acme")
    rg.permissions.create("acme", "documents:read")
    rg.permissions.create("acme", "documents:write")
    rg.roles.create("acme", "reader", permissions=["documents:read"])
    rg.assignments.assign("acme", "alice", "reader")
    rg.tenants.create("globex")
    rg.memberships.add("globex", "alice")
    return rg


@pytest.fixture
def login(documents: Rolegate) -> Login:
    """Log a user in through the library; the ``Authorization`` header of its access token."""

    def log_in(username: str = "alice", *, tenant: str = "acme") -> dict[str, str]:
        token = documents.auth.login(username, PASSWORD, tenant=tenant).access_token
        return {"Authorization": f"Bearer {token}"}

    return log_in


@pytest.fixture
def database_down(rg: Rolegate) -> Iterator[Callable[[], None]]:
    """Call it to make every later statement on ``rg``'s database fail, as a database that
    went away does (only the outside world is faked: rolegate's code runs unchanged)."""
    down = False

    def refuse(*args: Any) -> None:
        if down:
            raise OperationalError("SELECT", None, ConnectionError("the database is gone"))

    def take_down() -> None:
        nonlocal down
        down = True

    event.listen(rg.db.engine, "before_cursor_execute", refuse)
    yield take_down
    event.remove(rg.db.engine, "before_cursor_execute", refuse)


@contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    """``app`` served by uvicorn on a free local port, in a thread of this process (so it shares
    the test's clock and database); its base URL while the block runs."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none")
    served = uvicorn.Server(config)
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not served.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        served.should_exit = True
        thread.join(timeout=10)
