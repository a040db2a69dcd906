"""The audit trail of a real server: buffered decision records are written when it is stopped
cleanly, and chain heads are sealed on a schedule when asked."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from rolegate import Rolegate
from rolegate.entities import ChainReport
from tests.api.test_serve import login, start_server, stop
from tests.factories import PASSWORD

ADMIN_PASSWORD = "copper violin 7 meadow drift"


def test_a_clean_shutdown_writes_every_buffered_decision(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'served.db'}"
    env = {
        "ROLEGATE_BOOTSTRAP_PASSWORD": ADMIN_PASSWORD,
        # The writer would wait a minute: only the shutdown can write these in time.
        "ROLEGATE_AUDIT_FLUSH_INTERVAL": "PT1M",
        "ROLEGATE_AUDIT_BATCH_SIZE": "10000",
    }
    server, base_url = start_server(tmp_path, url, extra_env=env)
    try:
        # The bootstrap password is single-use: the first login sets the admin's own.
        first = login(base_url, "admin", ADMIN_PASSWORD, "platform", new_password=PASSWORD)
        token = first.json()["access_token"]
        checks = [{"user": f"nobody-{i}", "permission": "docs:read"} for i in range(40)]
        answer = httpx.post(
            f"{base_url}/v1/tenants/platform/check/batch",
            json={"checks": checks},
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": "shutdown-test"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        assert not any(result["allowed"] for result in answer.json()["results"])
        with Rolegate(url) as reader:
            assert list(reader.audit.export(action="authz.denied")) == []  # still buffered
    finally:
        stop(server)
    with Rolegate(url) as reader:
        written = list(reader.audit.export(action="authz.denied"))
        assert len(written) == 40
        assert {event.request_id for event in written} == {"shutdown-test"}
        assert all(report.is_intact for report in reader.audit.verify())


def test_the_server_seals_the_chains_when_asked_to(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sealed.db'}"
    env = {"ROLEGATE_BOOTSTRAP_PASSWORD": ADMIN_PASSWORD, "ROLEGATE_AUDIT_SEAL_INTERVAL": "PT1S"}
    server, _ = start_server(tmp_path, url, extra_env=env)
    try:
        deadline = time.monotonic() + 20
        reports: list[ChainReport] = []
        while time.monotonic() < deadline and not any(r.seals for r in reports):
            time.sleep(0.5)
            with Rolegate(url) as reader:
                reports = reader.audit.verify()
    finally:
        stop(server)
    assert any(report.seals for report in reports), reports
    assert all(report.is_intact for report in reports)
