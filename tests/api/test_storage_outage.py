"""A PostgreSQL crash under writes, through a real ``rolegate serve``: every answer is a success
or a 503 ``storage_unavailable`` problem with ``Retry-After``, and no acknowledged write is lost."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from rolegate import Rolegate
from tests.api.test_serve import login, start_server, stop
from tests.factories import FAST_HASHER, PASSWORD, bootstrap_admin
from tests.pgserver import PrivatePostgres

WRITERS = 4


@dataclass
class Answers:
    """What the writers were told: the roles acknowledged, and every refusal."""

    acknowledged: list[str] = field(default_factory=list)
    refused: list[tuple[int, dict[str, str], str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _write_until(
    stopping: threading.Event, base_url: str, token: str, worker: int, answers: Answers
) -> None:
    """Create roles ``w<worker>-<i>`` one after another until ``stopping``, noting each answer."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        i = 0
        while not stopping.is_set():
            name = f"w{worker}-{i}"
            i += 1
            response = client.post("/v1/tenants/acme/roles", json={"name": name})
            with answers.lock:
                if response.status_code == 201:
                    answers.acknowledged.append(name)
                else:
                    answers.refused.append(
                        (response.status_code, dict(response.headers), response.text)
                    )


def _writes_again(base_url: str, token: str) -> bool:
    """Whether a write succeeds within 30 s (the server reconnects once the database is back)."""
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = httpx.post(
            f"{base_url}/v1/tenants/acme/roles", json={"name": "after"}, headers=headers
        )
        if response.status_code == 201:
            return True
        assert response.status_code == 503, response.text
        time.sleep(0.2)
    return False


def test_a_crash_under_writes_answers_503_and_loses_no_acknowledged_write(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    url = private_postgres.url
    with Rolegate(url, hasher=FAST_HASHER, auto_upgrade=True) as rg:
        bootstrap_admin(rg)
        rg.tenants.create("acme")
    server, base_url = start_server(tmp_path, url)
    answers = Answers()
    stopping = threading.Event()
    try:
        token = login(base_url, "root", PASSWORD, "platform").json()["access_token"]
        writers = [
            threading.Thread(target=_write_until, args=(stopping, base_url, token, i, answers))
            for i in range(WRITERS)
        ]
        for writer in writers:
            writer.start()
        time.sleep(1.0)
        private_postgres.stop("immediate")  # a crash: no session ends cleanly
        time.sleep(1.5)
        stopping.set()
        for writer in writers:
            writer.join(timeout=60)
        private_postgres.start()
        assert _writes_again(base_url, token)
    finally:
        stopping.set()
        stop(server)
    assert answers.acknowledged, "no write succeeded before the crash"
    assert answers.refused, "no request met the crash"
    for status, headers, text in answers.refused:
        assert status == 503, (status, text)
        assert json.loads(text)["type"].endswith("/storage_unavailable"), text
        assert int(headers["retry-after"]) > 0, text
    with Rolegate(url, hasher=FAST_HASHER) as rg:
        stored = {role.name for role in rg.roles.list("acme")}
    assert set(answers.acknowledged) <= stored
