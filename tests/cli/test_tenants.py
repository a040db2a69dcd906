"""``rolegate tenant create | list | delete``."""

from __future__ import annotations

import getpass
from datetime import datetime
from uuid import UUID

import pytest

from rolegate import Rolegate, TenantNotFound
from tests.factories import Cli, audit_events


def test_create_makes_a_tenant_and_records_the_cli_actor(cli: Cli, rg: Rolegate) -> None:
    out = cli.ok("tenant", "create", "acme", "--name", "Acme Inc.")

    assert out == "created tenant 'acme'\n"
    assert rg.tenants.get("acme").name == "Acme Inc."
    [event] = audit_events(rg, action="tenant.created")
    assert event.actor == f"cli:{getpass.getuser()}"


def test_create_names_the_tenant_after_its_slug_by_default(cli: Cli, rg: Rolegate) -> None:
    cli.ok("tenant", "create", "acme")

    assert rg.tenants.get("acme").name == "acme"


def test_list_shows_every_tenant(cli: Cli, rg: Rolegate) -> None:
    rg.tenants.create("acme", name="Acme Inc.")

    out = cli.ok("tenant", "list")

    assert "Tenants" in out
    assert "acme" in out and "Acme Inc." in out and "default" in out


def test_list_as_json(cli: Cli, rg: Rolegate) -> None:
    rg.tenants.create("acme", name="Acme Inc.")

    tenants = cli.json("tenant", "list")

    assert [t["slug"] for t in tenants] == ["acme", "default", "platform"]
    assert UUID(tenants[0]["id"]) == rg.tenants.get("acme").id
    assert datetime.fromisoformat(tenants[0]["created_at"]).tzinfo is not None
    assert set(tenants[0]) == {"id", "slug", "name", "created_at", "updated_at"}


def test_delete_with_yes_deletes_without_asking(cli: Cli, rg: Rolegate) -> None:
    rg.tenants.create("acme")

    assert cli.ok("tenant", "delete", "acme", "--yes") == "deleted tenant 'acme'\n"
    with pytest.raises(TenantNotFound):
        rg.tenants.get("acme")


def test_delete_asks_first(cli: Cli, rg: Rolegate) -> None:
    rg.tenants.create("acme")

    result = cli.invoke("tenant", "delete", "acme", input="y\n")

    assert result.exit_code == 0
    assert "Delete tenant 'acme'" in result.stderr
    assert result.stdout.endswith("deleted tenant 'acme'\n")  # after the echoed answer
    assert [t.slug for t in rg.tenants.list()] == ["default", "platform"]


def test_declining_the_question_keeps_the_tenant(cli: Cli, rg: Rolegate) -> None:
    rg.tenants.create("acme")

    result = cli.invoke("tenant", "delete", "acme", input="n\n")

    assert result.exit_code == 1
    assert "aborted: nothing was changed" in result.stderr
    assert rg.tenants.get("acme").slug == "acme"


def test_delete_without_an_answer_on_stdin_fails_and_keeps_the_tenant(
    cli: Cli, rg: Rolegate
) -> None:
    rg.tenants.create("acme")

    result = cli.invoke("tenant", "delete", "acme")

    assert result.exit_code == 2
    assert "error: confirmation needed but no answer on stdin: pass --yes" in result.stderr
    assert "Traceback" not in result.output
    assert rg.tenants.get("acme").slug == "acme"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "Not A Slug"], "error: invalid tenant slug 'Not A Slug': use 1-63 lowercase"),
        (["create", "default"], "error: tenant 'default' already exists"),
        (["delete", "nope", "--yes"], "error: tenant 'nope' not found"),
        (["delete", "default", "--yes"], "error: the default tenant cannot be deleted"),
    ],
)
def test_errors(cli: Cli, args: list[str], message: str) -> None:
    assert cli.fails("tenant", *args).startswith(message)


def test_an_unknown_tenant_fails_before_the_question(cli: Cli) -> None:
    assert cli.fails("tenant", "delete", "nope", input="y\n") == "error: tenant 'nope' not found"
