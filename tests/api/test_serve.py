"""``rolegate serve`` as a real process, over real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from rolegate import Rolegate
from tests.factories import FAST_HASHER, PASSWORD, member_with_password

ROLEGATE = Path(sys.executable).with_name("rolegate")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_healthy(base_url: str, server: subprocess.Popen[bytes]) -> None:
    """Poll ``/healthz`` until it answers; fail if the server exits or takes over 30 s."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.poll() is None, "rolegate serve exited early"
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("rolegate serve did not come up within 30 s")


def test_serve_answers_a_login_over_http(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'served.db'}"
    with Rolegate(url, hasher=FAST_HASHER) as rg:
        member_with_password(rg, "alice", tenant="acme")
    server, base_url = start_server(tmp_path, url)
    try:
        response = login(base_url, "alice", PASSWORD, "acme")
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        me = httpx.get(
            f"{base_url}/v1/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert me.json()["user"]["username"] == "alice"
        assert "server" not in response.headers
    finally:
        stderr = stop(server)
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert server.returncode in (0, -signal.SIGTERM), stderr
    assert "Application shutdown complete" in stderr


def start_server(
    tmp_path: Path,
    url: str,
    *,
    extra_env: dict[str, str] | None = None,
    capture_stdout: bool = False,
) -> tuple[subprocess.Popen[bytes], str]:
    """``rolegate serve`` on ``url`` at a free port, healthy; its stderr is piped (and its
    stdout, where uvicorn writes the access log, with ``capture_stdout``)."""
    port = free_port()
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("ROLEGATE_BOOTSTRAP_")}
    env = {
        **inherited,
        "ROLEGATE_DATABASE_URL": url,
        "ROLEGATE_ARGON2_MEMORY_KIB": "8",
        "ROLEGATE_ARGON2_TIME_COST": "1",
        **(extra_env or {}),
    }
    server = subprocess.Popen(
        [str(ROLEGATE), "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE if capture_stdout else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base_url = f"http://127.0.0.1:{port}"
    wait_until_healthy(base_url, server)
    return server, base_url


def stop(server: subprocess.Popen[bytes]) -> str:
    """Stop ``server`` and return what it wrote to stderr."""
    return stop_and_read(server)[1]


def stop_and_read(server: subprocess.Popen[bytes]) -> tuple[str, str]:
    """Stop ``server`` and return what it wrote to stdout (if piped) and stderr."""
    server.terminate()
    stdout, stderr = server.communicate(timeout=30)
    return (stdout or b"").decode(), stderr.decode()


def login(
    base_url: str, username: str, password: str, tenant: str, *, new_password: str | None = None
) -> httpx.Response:
    body = {"username": username, "password": password, "tenant": tenant}
    if new_password is not None:
        body["new_password"] = new_password
    return httpx.post(f"{base_url}/v1/auth/login", json=body, timeout=10)


def test_first_start_on_an_empty_database_makes_an_admin_and_prints_its_password_once(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    server, base_url = start_server(tmp_path, url)
    first = stop(server)
    shown = [line.split()[-1] for line in first.splitlines() if "password:" in line]
    assert len(shown) == 1 and len(shown[0]) >= 20, first
    assert "username: admin" in first and "tenant:   platform" in first

    assert "works for one login, which must choose a new one" in first
    assert "random and shown once" in first
    server, base_url = start_server(tmp_path, url)
    try:
        first_login = login(base_url, "admin", shown[0], "platform")
        assert first_login.status_code == 403, first_login.text  # single-use
        assert first_login.json()["code"] == "password_change_required"
        changed = login(base_url, "admin", shown[0], "platform", new_password=PASSWORD)
        assert changed.status_code == 200, changed.text
        assert login(base_url, "admin", shown[0], "platform").status_code == 401  # used up
        assert login(base_url, "admin", PASSWORD, "platform").status_code == 200
        assert login(base_url, "admin", "admin", "platform").status_code == 401
    finally:
        second = stop(server)
    assert "password:" not in second  # shown once, never again


def test_the_bootstrap_password_can_come_from_the_environment(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    chosen = "copper violin 7 meadow drift"
    env = {"ROLEGATE_BOOTSTRAP_PASSWORD": chosen, "ROLEGATE_BOOTSTRAP_USERNAME": "root"}
    server, base_url = start_server(tmp_path, url, extra_env=env)
    try:
        assert login(base_url, "root", chosen, "platform").status_code == 403
        assert login(base_url, "root", chosen, "platform", new_password=PASSWORD).status_code == 200
        assert login(base_url, "root", chosen, "platform").status_code == 401
    finally:
        output = stop(server)
    assert chosen not in output
    assert "password: (the one in ROLEGATE_BOOTSTRAP_PASSWORD)" in output
    assert "shown once" not in output  # the operator chose it: it sits in their environment


def test_a_bootstrap_password_the_policy_refuses_stops_the_server_with_a_clear_error(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "ROLEGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"}
    env["ROLEGATE_BOOTSTRAP_PASSWORD"] = "short"
    result = subprocess.run(
        [str(ROLEGATE), "serve", "--port", str(free_port())],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.decode().splitlines() == [
        "error: ROLEGATE_BOOTSTRAP_PASSWORD is refused: shorter than 12 characters"
    ]


def test_no_token_in_a_url_or_a_header_reaches_the_access_log(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'served.db'}"
    with Rolegate(url, hasher=FAST_HASHER) as rg:
        member_with_password(rg, "alice", tenant="acme")
    server, base_url = start_server(tmp_path, url, capture_stdout=True)
    try:
        tokens = login(base_url, "alice", PASSWORD, "acme").json()
        access, refresh = tokens["access_token"], tokens["refresh_token"]
        query = f"Access_Token={access}&CODE=oauth-code-1234&Client_Secret=shh-9876&page=2"
        me = httpx.get(f"{base_url}/v1/auth/me?{query}", timeout=10)
        assert me.status_code == 401  # a token in the URL is no credential (RFC 6750 §2.3)
        headers = {"Authorization": f"Bearer {access}"}
        assert httpx.get(f"{base_url}/v1/auth/me", headers=headers, timeout=10).is_success
        httpx.get(f"{base_url}/v1/no/such/{access}?refresh_token={refresh}", timeout=10)
    finally:
        stdout, stderr = stop_and_read(server)
    logged = stdout + stderr
    assert '"GET /v1/auth/me?' in logged, logged  # the access log is on, and was captured
    for secret in (access, access.split(".")[1], refresh, "oauth-code-1234", "shh-9876"):
        assert secret not in logged
    assert "Access_Token=[redacted]&CODE=[redacted]&Client_Secret=[redacted]&page=2" in logged


def test_metrics_on_their_own_address_are_not_on_the_main_listener(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'served.db'}"
    metrics_url = f"http://127.0.0.1:{free_port()}"
    env = {"ROLEGATE_METRICS_ADDRESS": metrics_url.removeprefix("http://")}
    server, base_url = start_server(tmp_path, url, extra_env=env)
    try:
        assert httpx.get(f"{base_url}/metrics", timeout=10).status_code == 404
        scraped = httpx.get(f"{metrics_url}/metrics", timeout=10)
        assert scraped.status_code == 200
        assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
        # The main listener's requests, counted in the registry the metrics listener reads.
        assert 'route="/healthz",status="200"' in scraped.text
        assert httpx.get(f"{metrics_url}/healthz", timeout=10).status_code == 404
    finally:
        stderr = stop(server)
    assert server.returncode in (0, -signal.SIGTERM), stderr
    assert "Application shutdown complete" in stderr


def test_metrics_on_their_own_address_need_a_single_worker(tmp_path: Path) -> None:
    env = {**os.environ, "ROLEGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"}
    env["ROLEGATE_METRICS_ADDRESS"] = f"127.0.0.1:{free_port()}"
    result = subprocess.run(
        [str(ROLEGATE), "serve", "--port", str(free_port()), "--workers", "2"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert b"ROLEGATE_METRICS_ADDRESS" in result.stderr and b"Traceback" not in result.stderr
