"""Two ``rolegate serve`` processes on one database (PostgreSQL, and a SQLite file): a change
acknowledged by one server is honoured by the other on its very next request (no stale allow,
no window)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from rolegate import Rolegate
from tests.api.test_serve import login, start_server, stop
from tests.factories import FAST_HASHER, PASSWORD, bootstrap_admin


@pytest.fixture
def seeded(database_url: str) -> str:
    """``database_url`` with a platform admin and alice, a reader of documents in acme."""
    with Rolegate(database_url, hasher=FAST_HASHER) as rg:
        bootstrap_admin(rg)
        rg.tenants.create("acme")
        rg.permissions.create("acme", "documents:read")
        rg.roles.create("acme", "reader", permissions=["documents:read"])
        rg.users.create("alice", password=PASSWORD)
        rg.assignments.assign("acme", "alice", "reader")
    return database_url


def test_a_revoke_through_one_server_is_honoured_by_the_other_at_once(
    seeded: str, tmp_path: Path
) -> None:
    first, first_url = start_server(tmp_path, seeded)
    second, second_url = start_server(tmp_path, seeded)
    try:
        root = login(first_url, "root", PASSWORD, "platform").json()["access_token"]
        alice = login(second_url, "alice", PASSWORD, "acme").json()["access_token"]
        admin = {"Authorization": f"Bearer {root}"}
        check = {"user": "alice", "permission": "documents:read"}

        def allowed_on_second() -> bool:
            answer = httpx.post(
                f"{second_url}/v1/tenants/acme/check", json=check, headers=admin, timeout=10
            )
            assert answer.status_code == 200, answer.text
            return bool(answer.json()["allowed"])

        assert allowed_on_second()  # the second server has compiled and cached the allow
        revoked = httpx.delete(
            f"{first_url}/v1/tenants/acme/users/alice/roles/reader", headers=admin, timeout=10
        )
        assert revoked.status_code == 204, revoked.text
        assert not allowed_on_second()  # the very next request, no waiting

        # Sessions too: a logout through the first ends the token on the second.
        me = httpx.get(
            f"{second_url}/v1/auth/me", headers={"Authorization": f"Bearer {alice}"}, timeout=10
        )
        assert me.status_code == 200
        ended = httpx.post(
            f"{first_url}/v1/auth/logout", headers={"Authorization": f"Bearer {alice}"}, timeout=10
        )
        assert ended.status_code == 204
        me = httpx.get(
            f"{second_url}/v1/auth/me", headers={"Authorization": f"Bearer {alice}"}, timeout=10
        )
        assert me.status_code == 401
    finally:
        stop(first)
        stop(second)
