"""The first ten minutes of a new user, as the README tells them, over real HTTP: start the
server on an empty database, log in with the printed credentials, create a tenant, a role and
users, check a permission, and protect a FastAPI app with ``require_permission``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.api.test_serve import free_port, login, start_server, stop
from tests.integrations.test_examples import ROOT, wait_until_answering

USER_PASSWORD = "amber kettle 31 harbor quill"
ADMIN_PASSWORD = "cobalt fennel 12 quarry lark"


def test_a_new_user_gets_from_make_run_to_a_protected_app(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rolegate.db'}"
    server, base = start_server(tmp_path, url)
    app = None
    closing: list[httpx.Client] = []
    try:
        printed = server_output_until_ready(server)
        password = next(line.split()[-1] for line in printed if "password:" in line)
        # single-use: the first login sets the admin's own password, as the README says
        assert login(base, "admin", password, "platform").status_code == 403
        first = login(base, "admin", password, "platform", new_password=ADMIN_PASSWORD)
        token = first.json()["access_token"]
        admin = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})
        closing.append(admin)

        def call(method: str, path: str, expected: int, **body: object) -> httpx.Response:
            response = admin.request(method, path, json=body or None)
            assert response.status_code == expected, f"{method} {path}: {response.text}"
            return response

        call("POST", "/v1/tenants", 201, slug="acme", name="Acme")
        call("POST", "/v1/tenants/acme/permissions", 201, name="documents:read")
        call("POST", "/v1/tenants/acme/roles", 201, name="reader", permissions=["documents:read"])
        for username in ("alice", "bob"):
            call("POST", "/v1/tenants/acme/users", 201, username=username, password=USER_PASSWORD)
        call("PUT", "/v1/tenants/acme/users/alice/roles/reader", 201)
        for username, allowed in (("alice", True), ("bob", False)):
            answer = call(
                "POST", "/v1/tenants/acme/check", 200, user=username, permission="documents:read"
            )
            assert answer.json()["allowed"] is allowed

        port = free_port()
        app = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "examples.fastapi_app:create_app"]
            + ["--port", str(port)],
            cwd=ROOT,
            env={**os.environ, "ROLEGATE_DATABASE_URL": url},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        documents = f"http://127.0.0.1:{port}/documents"
        wait_until_answering(documents, app)
        for username, status in (("alice", 200), ("bob", 403)):
            user_token = login(base, username, USER_PASSWORD, "acme").json()["access_token"]
            answer = httpx.get(documents, headers={"Authorization": f"Bearer {user_token}"})
            assert answer.status_code == status, f"{username}: {answer.text}"
        assert httpx.get(documents).status_code == 401
    finally:
        for client in closing:
            client.close()
        if app is not None:
            app.terminate()
            app.communicate(timeout=30)
        stop(server)


def server_output_until_ready(server: subprocess.Popen[bytes]) -> list[str]:
    """The lines the server printed before it said it was running."""
    assert server.stderr is not None
    lines = []
    for raw in server.stderr:
        line = raw.decode().rstrip()
        lines.append(line)
        if "Uvicorn running" in line:
            return lines
    raise AssertionError("the server stopped before it was running: " + "\n".join(lines))
