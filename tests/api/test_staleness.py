"""Bounded staleness (ARCHITECTURE invariant 7) on real servers: a process cut off from its
database by a real TCP proxy, by a stopped PostgreSQL, or by its SQLite file moved away stops
answering from its cache within the bound; the library denies with reason ``stale``, the check
API answers 503 ``policy_stale``, ``/readyz`` is 503, the metrics say so, and everything
recovers by itself when the database answers again."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from rolegate import InvalidInput, PolicyStale, Reason, Rolegate, Settings
from rolegate.api import create_app
from rolegate.api.metrics_listener import metrics_app
from tests.factories import (
    FAST_HASHER,
    AuthActions,
    assert_problem,
    audit_events,
    build_documents_policy,
    member_with_password,
    stalled_query,
    wait_until,
)
from tests.netproxy import proxy_to
from tests.pgserver import PrivatePostgres

pytestmark = pytest.mark.anyio

ACME = "/v1/tenants/acme"
BOUND = timedelta(milliseconds=500)
#: How long a test waits for what the bound promises, on a loaded two-core machine.
EVENTUALLY = 15.0
READ = {"user": "alice", "permission": "documents:read"}


def _settings(**options: object) -> Settings:
    return Settings(max_staleness=BOUND, **options)  # type: ignore[arg-type]


def _seed(rg: Rolegate) -> None:
    """alice reads documents in acme (editor, inheriting viewer); svc may call the check API."""
    build_documents_policy(rg)
    member_with_password(rg, "svc", tenant="acme")
    rg.assignments.assign("acme", "svc", "tenant-admin")


METRICS = "/listener/metrics"


@asynccontextmanager
async def _served(rg: Rolegate) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """A client of the real app on ``rg``, and svc's Authorization header. The metrics are read
    from the metrics listener's app (``ROLEGATE_METRICS_ADDRESS``), mounted at ``/listener``:
    the token-guarded ``/metrics`` answers 503 while stale, like every guarded route."""
    app = create_app(rg, serve_metrics=False)
    app.mount("/listener", metrics_app(app.state.metrics))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        auth = AuthActions(client)
        yield client, auth.bearer(await auth.login("svc"))


def _metric(text: str, name: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    raise AssertionError(f"no metric {name}")


async def _assert_stale(rg: Rolegate, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """Every way of asking says the policy may be stale, and none allows."""
    waited = wait_until(lambda: not rg.check("alice", "documents:read", tenant="acme"), timeout=10)
    assert waited is not None, "still allowed from the cache long after the bound"
    assert rg.explain("alice", "documents:read", tenant="acme").reason is Reason.STALE
    with pytest.raises(PolicyStale):
        rg.check_many("alice", ["documents:read", "documents:write"], tenant="acme")
    bodies = {"/check": READ, "/check/batch": {"checks": [READ]}, "/explain": READ}
    for path, body in bodies.items():
        response = await client.post(f"{ACME}{path}", json=body, headers=headers)
        assert_problem(response, 503, "policy_stale")
        assert int(response.headers["Retry-After"]) >= 1
    assert_problem(await client.get("/readyz"), 503, "not_ready")
    metrics = (await client.get(METRICS)).text
    assert _metric(metrics, "rolegate_policy_stale") == 1
    assert _metric(metrics, "rolegate_policy_confirmed_age_seconds") >= BOUND.total_seconds()
    assert _metric(metrics, "rolegate_policy_stale_denials_total") >= 1


async def _assert_recovered(
    rg: Rolegate, client: httpx.AsyncClient, headers: dict[str, str], *, allowed: bool
) -> None:
    """The process answers again, by itself, and reflects what changed meanwhile."""

    def answers() -> bool:
        return rg.explain("alice", "documents:read", tenant="acme").reason is not Reason.STALE

    assert wait_until(answers, timeout=EVENTUALLY) is not None, "never recovered"
    assert wait_until(
        lambda: rg.check("alice", "documents:read", tenant="acme") is allowed, timeout=EVENTUALLY
    )
    response = await client.post(f"{ACME}/check", json=READ, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"allowed": allowed}
    assert (await client.get("/readyz")).status_code == 200
    assert _metric((await client.get(METRICS)).text, "rolegate_policy_stale") == 0


def _stale_denials_recorded(rg: Rolegate) -> bool:
    """Whether the decision trail holds a denial with reason ``stale`` (written once the
    database answers again)."""
    assert rg.decisions is not None
    rg.decisions.trail.flush()
    return any(e.details["reason"] == "stale" for e in audit_events(rg, action="authz.denied"))


@pytest.fixture
def private_url(private_postgres: PrivatePostgres) -> str:
    """The private server's database, migrated and seeded."""
    with Rolegate(private_postgres.url, hasher=FAST_HASHER, auto_upgrade=True) as rg:
        _seed(rg)
    return private_postgres.url


@pytest.fixture
def writer(private_url: str) -> Iterator[Rolegate]:
    """Process B: on a direct connection, no watcher."""
    with Rolegate(private_url, hasher=FAST_HASHER, settings=Settings(watch_changes=False)) as rg:
        yield rg


async def test_a_process_cut_off_by_a_proxy_denies_within_the_bound_and_recovers(
    private_url: str, writer: Rolegate
) -> None:
    with (
        proxy_to(private_url) as (proxy, proxied),
        Rolegate(proxied, hasher=FAST_HASHER, settings=_settings()) as cut_off,
    ):
        async with _served(cut_off) as (client, headers):
            assert cut_off.check("alice", "documents:read", tenant="acme")  # cached
            proxy.cut()
            writer.roles.revoke("acme", "viewer", "documents:read")
            await _assert_stale(cut_off, client, headers)
            proxy.heal()
            await _assert_recovered(cut_off, client, headers, allowed=False)
            assert wait_until(lambda: _stale_denials_recorded(cut_off), timeout=EVENTUALLY)


async def test_a_process_whose_postgresql_stops_denies_and_recovers_when_it_starts(
    private_postgres: PrivatePostgres, private_url: str
) -> None:
    with Rolegate(private_url, hasher=FAST_HASHER, settings=_settings()) as rg:
        async with _served(rg) as (client, headers):
            assert rg.check("alice", "documents:read", tenant="acme")
            private_postgres.stop()
            await _assert_stale(rg, client, headers)
            private_postgres.start()
            await _assert_recovered(rg, client, headers, allowed=True)
            with Rolegate(private_url, settings=Settings(watch_changes=False)) as writer:
                writer.roles.revoke("acme", "viewer", "documents:read")
            await _assert_recovered(rg, client, headers, allowed=False)


def _sqlite_file(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'rolegate.db'}"
    with Rolegate(url, hasher=FAST_HASHER) as rg:
        _seed(rg)
    return url


@pytest.mark.parametrize("watch_changes", [True, False], ids=["watched", "unwatched"])
async def test_a_process_whose_sqlite_file_is_moved_away_answers_503_not_allowed(
    tmp_path: Path, watch_changes: bool
) -> None:
    # As root, chmod 000 stops no read; a file moved away is still read through the pooled
    # connections (they hold it open), which is how a stale allow used to come out.
    url = _sqlite_file(tmp_path)
    path = tmp_path / "rolegate.db"
    settings = _settings(watch_changes=watch_changes)
    with Rolegate(url, hasher=FAST_HASHER, settings=settings) as rg:
        async with _served(rg) as (client, headers):
            assert rg.check("alice", "documents:read", tenant="acme")
            os.rename(path, tmp_path / "moved.db")
            await _assert_stale(rg, client, headers)
            os.rename(tmp_path / "moved.db", path)
            await _assert_recovered(rg, client, headers, allowed=True)
            assert wait_until(lambda: _stale_denials_recorded(rg), timeout=EVENTUALLY)


def test_a_healthy_process_never_denies_as_stale(database_url: str) -> None:
    """The watcher (or, without one, the checks themselves) confirms well within the bound."""
    with Rolegate(database_url, hasher=FAST_HASHER) as seeding:
        _seed(seeding)
    for watch_changes in (True, False):
        settings = _settings(watch_changes=watch_changes)
        with Rolegate(database_url, hasher=FAST_HASHER, settings=settings) as rg:
            answers = []
            until = time.monotonic() + 3 * BOUND.total_seconds()
            while time.monotonic() < until:
                answers.append(rg.check("alice", "documents:read", tenant="acme"))
                time.sleep(0.01)
            assert all(answers), answers.count(False)
            assert rg.freshness.stale_denials == 0
            assert not rg.freshness.is_stale


def test_a_watcher_blocked_in_a_read_cannot_hold_the_process_fresh(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The deadline is the clock's: the watcher's revision read, held at the driver (a read
    hung on a dead connection), delays nothing; released, it confirms again."""
    with Rolegate(database_url, hasher=FAST_HASHER) as seeding:
        _seed(seeding)
    with Rolegate(database_url, hasher=FAST_HASHER, settings=_settings()) as rg:
        assert rg.check("alice", "documents:read", tenant="acme")
        with stalled_query(rg.db.engine, table="policy_state", thread="rolegate-watcher") as gate:
            assert gate.arrived.wait(timeout=EVENTUALLY), "the watcher never read the revision"
            for _ in range(50):  # many denials, one log line
                assert wait_until(
                    lambda: not rg.check("alice", "documents:read", tenant="acme"), timeout=10
                )
            assert rg.explain("alice", "documents:read", tenant="acme").reason is Reason.STALE
            assert rg.freshness.is_stale and rg.freshness.stale_denials >= 50
            gate.opened.set()
            assert wait_until(
                lambda: rg.check("alice", "documents:read", tenant="acme"), timeout=10
            )
    messages = [r.getMessage() for r in caplog.records if r.name == "rolegate.authz.freshness"]
    assert sum("may be stale" in m for m in messages) == 1, messages
    assert sum("current again" in m for m in messages) == 1, messages


def test_an_idle_process_without_a_watcher_stays_ready_and_quiet(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No watcher: past the bound, the next check reads the revision itself; no outage is
    logged or reported for a process that simply had nothing to check."""
    url = _sqlite_file(tmp_path)
    with Rolegate(url, hasher=FAST_HASHER, settings=_settings(watch_changes=False)) as rg:
        time.sleep(3 * BOUND.total_seconds())
        assert not rg.freshness.is_stale  # nothing failed: not an outage
        assert rg.check("alice", "documents:read", tenant="acme")
        assert rg.readiness()[0]
        assert rg.freshness.stale_denials == 0
    assert not [r for r in caplog.records if r.name == "rolegate.authz.freshness"]


@pytest.mark.parametrize(
    "bound", [timedelta(0), timedelta(milliseconds=-1), timedelta(milliseconds=100)]
)
def test_a_bound_no_watcher_poll_could_meet_is_refused(tmp_path: Path, bound: timedelta) -> None:
    with pytest.raises(InvalidInput, match="max_staleness"):
        Rolegate(f"sqlite:///{tmp_path / 'r.db'}", max_staleness=bound)
    with pytest.raises(ValueError, match="max_staleness"):
        Settings(max_staleness=bound)
