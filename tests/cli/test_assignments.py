"""``rolegate assign``, ``rolegate unassign`` and ``rolegate assignment list``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rolegate import Rolegate
from tests.factories import Cli, FakeClock, build_documents_policy


@pytest.fixture
def acme(rg: Rolegate) -> Rolegate:
    """The README's documents policy in ``acme``, alice an editor; bob exists, with no roles."""
    build_documents_policy(rg)
    rg.users.create("bob")
    return rg


def expiry(rg: Rolegate, user: str, role: str) -> datetime | None:
    """When ``user``'s assignment to ``role`` in acme ends (None: never)."""
    [found] = rg.assignments.list("acme", user=user, role=role)
    return found.expires_at


def test_assign_makes_a_member_with_a_permanent_role(cli: Cli, acme: Rolegate) -> None:
    out = cli.ok("assign", "acme", "bob", "viewer")

    assert out == "assigned role 'viewer' to 'bob' in tenant 'acme'\n"
    assert expiry(acme, "bob", "viewer") is None
    assert [m.username for m in acme.memberships.list("acme")] == ["alice", "bob"]
    assert acme.check("bob", "documents:read", tenant="acme")


def test_assign_until_an_iso_time(cli: Cli, acme: Rolegate) -> None:
    until = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)

    out = cli.ok("assign", "acme", "bob", "viewer", "--expires", until.isoformat())

    assert out.endswith(f"until {until:%Y-%m-%d %H:%M} UTC\n")
    assert expiry(acme, "bob", "viewer") == until


def test_assign_accepts_z_and_other_offsets(cli: Cli, acme: Rolegate) -> None:
    cli.ok("assign", "acme", "bob", "viewer", "--expires", "2999-01-01T00:00:00Z")
    cli.ok("assign", "acme", "bob", "editor", "--expires", "2999-01-01T02:00:00+02:00")

    assert expiry(acme, "bob", "viewer") == datetime(2999, 1, 1, tzinfo=UTC)
    assert expiry(acme, "bob", "editor") == datetime(2999, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("duration", "length"),
    [
        ("90m", timedelta(minutes=90)),
        ("12h", timedelta(hours=12)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("90s", timedelta(seconds=90)),
        ("P7D", timedelta(days=7)),
        ("PT90M", timedelta(minutes=90)),
        ("P1W", timedelta(weeks=1)),
        ("P1DT12H", timedelta(days=1, hours=12)),
    ],
)
def test_assign_for_a_duration(cli: Cli, acme: Rolegate, duration: str, length: timedelta) -> None:
    before = datetime.now(UTC)
    cli.ok("assign", "acme", "bob", "viewer", "--expires", duration)
    after = datetime.now(UTC)

    expires_at = expiry(acme, "bob", "viewer")
    assert expires_at is not None
    assert before + length <= expires_at <= after + length


def test_assigning_again_changes_the_expiry(cli: Cli, acme: Rolegate) -> None:
    cli.ok("assign", "acme", "alice", "editor", "--expires", "2999-01-01T00:00:00+00:00")

    assert expiry(acme, "alice", "editor") == datetime(2999, 1, 1, tzinfo=UTC)
    cli.ok("assign", "acme", "alice", "editor")
    assert expiry(acme, "alice", "editor") is None


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("2030-01-01T00:00:00", "error: expires_at needs a time zone (use UTC)"),
        ("2030-01-01", "error: expires_at needs a time zone (use UTC)"),
        ("2020-01-01T00:00:00+00:00", "error: expires_at 2020-01-01T00:00:00+00:00 is not in the"),
        ("0m", "error: Invalid value for '--expires': '0m' is not a positive duration"),
        ("P0D", "error: Invalid value for '--expires': 'P0D' is not a positive duration"),
        ("P1M", "error: Invalid value for '--expires': 'P1M' counts years or months"),
        ("P99999999D", "error: expires_in runs past the year 9999"),
        ("soon", "error: Invalid value for '--expires': 'soon' is neither an ISO 8601 timestamp"),
    ],
)
def test_assign_refuses_a_naive_or_past_expiry(
    cli: Cli, acme: Rolegate, when: str, message: str
) -> None:
    assert cli.fails("assign", "acme", "bob", "viewer", "--expires", when).startswith(message)
    assert acme.assignments.list("acme", user="bob") == []


@pytest.mark.parametrize(
    "when", ["3y", "tomorrow", "7 d", "-7d", "99999999999w", "P", "PT", "P7", "-P1D", "P1Y"]
)
def test_assign_refuses_what_is_no_time(cli: Cli, acme: Rolegate, when: str) -> None:
    result = cli.invoke("assign", "acme", "bob", "viewer", "--expires", when)

    text = " ".join(result.stderr.replace("│", " ").split())
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert f"Invalid value for '--expires': '{when}' " in text
    assert acme.assignments.list("acme", user="bob") == []


def test_unassign_keeps_the_membership(cli: Cli, acme: Rolegate) -> None:
    out = cli.ok("unassign", "acme", "alice", "editor")

    assert out == "unassigned role 'editor' from 'alice' in tenant 'acme'\n"
    assert acme.assignments.list("acme") == []
    assert [m.username for m in acme.memberships.list("acme")] == ["alice"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["assign", "nope", "alice", "viewer"], "error: tenant 'nope' not found"),
        (["assign", "acme", "nobody", "viewer"], "error: user 'nobody' not found"),
        (["assign", "acme", "alice", "nope"], "error: role 'nope' not found in tenant 'acme'"),
        (["unassign", "acme", "bob", "viewer"], "error: assignment 'viewer to bob' not found"),
        (["unassign", "acme", "nobody", "viewer"], "error: user 'nobody' not found"),
        (["assignment", "list", "nope"], "error: tenant 'nope' not found"),
        (["assignment", "list", "acme", "--user", "nobody"], "error: user 'nobody' not found"),
        (["assignment", "list", "acme", "--role", "nope"], "error: role 'nope' not found"),
    ],
)
def test_errors(cli: Cli, acme: Rolegate, args: list[str], message: str) -> None:
    assert cli.fails(*args).startswith(message)


def test_list_shows_assignments_and_which_have_expired(
    cli: Cli, acme: Rolegate, clock: FakeClock
) -> None:
    clock.now = datetime.now(UTC) - timedelta(days=2)
    acme.assignments.assign("acme", "bob", "viewer", expires_at=clock.now + timedelta(days=1))

    out = cli.ok("assignment", "list", "acme")

    alice = next(line for line in out.splitlines() if " alice " in line)
    bob = next(line for line in out.splitlines() if " bob " in line)
    assert "editor" in alice and "active" in alice
    assert "viewer" in bob and "expired" in bob


def test_list_filters_by_user_and_role(cli: Cli, acme: Rolegate) -> None:
    acme.assignments.assign("acme", "bob", "viewer")

    by_user = cli.json("assignment", "list", "acme", "--user", "bob")
    by_role = cli.json("assignment", "list", "acme", "--role", "editor")

    assert [(a["username"], a["role"]) for a in by_user] == [("bob", "viewer")]
    assert [(a["username"], a["role"]) for a in by_role] == [("alice", "editor")]


def test_list_as_json(cli: Cli, acme: Rolegate) -> None:
    [assignment] = cli.json("assignment", "list", "acme")

    assert assignment["tenant"] == "acme" and assignment["expires_at"] is None
    assert assignment["granted_by"] == "system"  # set up through the library, not the CLI
    assert datetime.fromisoformat(assignment["granted_at"]).tzinfo is not None
