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
    port = free_port()
    env = {
        **os.environ,
        "ROLEGATE_DATABASE_URL": url,
        "ROLEGATE_ARGON2_MEMORY_KIB": "8",
        "ROLEGATE_ARGON2_TIME_COST": "1",
    }
    server = subprocess.Popen(
        [str(ROLEGATE), "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base_url, server)
        response = httpx.post(
            f"{base_url}/v1/auth/login",
            json={"username": "alice", "password": PASSWORD, "tenant": "acme"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        me = httpx.get(
            f"{base_url}/v1/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert me.json()["user"]["username"] == "alice"
        assert "server" not in response.headers
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert server.returncode in (0, -signal.SIGTERM), stderr.decode()
    assert b"Application shutdown complete" in stderr
