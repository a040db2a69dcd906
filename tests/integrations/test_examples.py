"""The example apps as real processes (uvicorn, ``flask run``) over real HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rolegate import Rolegate
from tests.api.test_serve import free_port
from tests.factories import FAST_HASHER, PASSWORD, assert_problem, member_with_password

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = {
    "fastapi": ["-m", "uvicorn", "--factory", "examples.fastapi_app:create_app", "--port"],
    "flask": ["-m", "flask", "--app", "examples/flask_app.py", "run", "--port"],
}


@pytest.fixture
def tokens(tmp_path: Path) -> tuple[str, dict[str, str]]:
    """A SQLite database where alice is an editor of acme and bob a member with no role, and
    each one's access token: (database URL, username to token)."""
    url = f"sqlite:///{tmp_path / 'documents.db'}"
    with Rolegate(url, hasher=FAST_HASHER) as rg:
        member_with_password(rg, "alice", tenant="acme")
        member_with_password(rg, "bob", tenant="acme")
        rg.permissions.create("acme", "documents:read")
        rg.permissions.create("acme", "documents:write")
        rg.roles.create("acme", "editor", permissions=["documents:read", "documents:write"])
        rg.assignments.assign("acme", "alice", "editor")
        issued = {
            name: rg.auth.login(name, PASSWORD, tenant="acme").access_token
            for name in ("alice", "bob")
        }
    return url, issued


@pytest.fixture(params=sorted(COMMANDS))
def example(request: pytest.FixtureRequest, tokens: tuple[str, dict[str, str]]) -> Iterator[str]:
    """Each example app served by its own server process; its base URL."""
    port = free_port()
    env = {**os.environ, "ROLEGATE_DATABASE_URL": tokens[0]}
    server = subprocess.Popen(
        [sys.executable, *COMMANDS[request.param], str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(f"{base_url}/documents", server)
        yield base_url
    finally:
        server.terminate()
        server.communicate(timeout=30)


def wait_until_answering(url: str, server: subprocess.Popen[bytes]) -> None:
    """Poll ``url`` until the server answers at all; fail if it exits or takes over 30 s."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the example exited: {server.communicate()[1].decode()}")
        try:
            httpx.get(url, timeout=1)
        except httpx.TransportError:
            time.sleep(0.1)
        else:
            return
    raise AssertionError("the example did not come up within 30 s")


def test_the_right_user_gets_in_and_the_wrong_one_is_kept_out(
    example: str, tokens: tuple[str, dict[str, str]]
) -> None:
    alice = {"Authorization": f"Bearer {tokens[1]['alice']}"}
    bob = {"Authorization": f"Bearer {tokens[1]['bob']}"}
    with httpx.Client(base_url=example, timeout=10) as client:
        created = client.post("/documents", json={"title": "Q3 plan"}, headers=alice)
        assert created.status_code == 201, created.text
        listed = client.get("/documents", headers=alice)
        assert listed.status_code == 200 and listed.json()[0]["title"] == "Q3 plan"
        for response in (
            client.get("/documents", headers=bob),
            client.post("/documents", json={"title": "x"}, headers=bob),
        ):
            assert response.status_code == 403, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["code"] == "permission_denied"
        anonymous = client.get("/documents")
        assert anonymous.status_code == 401
        assert anonymous.headers["WWW-Authenticate"] == "Bearer"


def test_the_examples_errors_are_problems(example: str, tokens: tuple[str, dict[str, str]]) -> None:
    alice = {"Authorization": f"Bearer {tokens[1]['alice']}"}
    with httpx.Client(base_url=example, timeout=10) as client:
        invalid = client.post("/documents", json={"title": 7}, headers=alice)
        assert_problem(invalid, 422, "invalid_request")
        assert_problem(client.get("/nowhere"), 404, "not_found")
        wrong_method = client.delete("/documents", headers=alice)
        assert_problem(wrong_method, 405, "method_not_allowed")
        assert "GET" in wrong_method.headers["Allow"]
