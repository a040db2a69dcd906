"""``rolegate demo``: a policy in tenant ``demo``, set up idempotently, then sample checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rolegate import Rolegate
from tests.factories import Cli, FakeClock, count_rows, without_builtins


def test_demo_sets_up_a_policy_and_prints_it(cli: Cli, rg: Rolegate, clock: FakeClock) -> None:
    clock.now = datetime.now(UTC)

    out = cli.ok("demo")

    for title in ("Roles in tenant demo", "Assignments in tenant demo", "Sample checks"):
        assert title in out
    assert "created 15 objects in tenant 'demo'" in out
    assert out.endswith("try: rolegate check demo alice documents:write --explain\n")
    roles = {role.name: role for role in rg.roles.list("demo")}
    assert roles["editor"].inherits == ("viewer",)
    assert roles["analyst"].permissions == ("reports:*",)
    [bob] = rg.assignments.list("demo", user="bob")
    assert bob.expires_at is not None and bob.expires_at > clock.now + timedelta(days=6)
    assert rg.check("alice", "documents:read", tenant="demo")
    assert rg.check("bob", "reports:export", tenant="demo")
    assert not rg.users.get("carol").is_active


def test_demo_prints_the_decisions_it_shows(cli: Cli) -> None:
    out = cli.ok("demo")

    rows = {tuple(line.split("│")[1:5]) for line in out.splitlines() if line.count("│") == 5}
    cells = {tuple(cell.strip() for cell in row) for row in rows}
    assert ("alice", "documents:read", "allowed", "granted") in cells
    assert ("bob", "reports:export", "allowed", "granted") in cells
    assert ("bob", "documents:write", "denied", "no_role_grants_it") in cells
    assert ("carol", "documents:read", "denied", "inactive_user") in cells
    assert ("mallory", "documents:read", "denied", "unknown_user") in cells


def test_running_the_demo_again_changes_nothing(cli: Cli, rg: Rolegate) -> None:
    cli.ok("demo")
    events = count_rows(rg, "audit_events")

    out = cli.ok("demo")

    assert "tenant 'demo' was already set up; nothing created" in out
    assert count_rows(rg, "audit_events") == events
    roles = without_builtins(r.name for r in rg.roles.list("demo"))
    assert roles == ["analyst", "editor", "viewer"]


def test_the_demo_never_changes_an_existing_account(cli: Cli, rg: Rolegate) -> None:
    rg.users.create("Carol", full_name="The real Carol")  # the same account as "carol"

    cli.ok("demo")

    carol = rg.users.get("carol")
    assert carol.is_active and carol.full_name == "The real Carol"
