"""``rolegate audit list | export | verify | seal | prune``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import delete, update

from rolegate import Rolegate
from rolegate.cli.audit import parse_moment
from rolegate.db.models import AuditEventRecord
from rolegate.entities import AuditEvent
from rolegate.errors import InvalidCredentials
from tests.factories import Cli, FakeClock, usage_error

# A name someone typed: a forged second line, Rich markup and an ANSI colour (CWE-150).
HOSTILE = "mallet\r\nFAKE LINE [bold]x[/bold] \x1b[31mred"


def chain_events(rg: Rolegate, tenant: str) -> list[AuditEvent]:
    """Every event of ``tenant``'s chain, oldest first."""
    return list(rg.audit.export(tenant=tenant))


def event_at(rg: Rolegate, tenant: str, seq: int) -> AuditEvent:
    """The event at ``seq`` in ``tenant``'s chain."""
    [found] = [event for event in chain_events(rg, tenant) if event.seq == seq]
    return found


def test_list_shows_the_newest_events_first(cli: Cli, rg: Rolegate, clock: FakeClock) -> None:
    rg.tenants.create("acme")
    clock.advance(timedelta(minutes=1))
    rg.roles.create("acme", "viewer")
    clock.advance(timedelta(minutes=1))
    rg.roles.create("acme", "editor")

    out = cli.ok("audit", "list", "--tenant", "acme", "--limit", "2")

    assert "Audit events" in out
    assert out.index('{"after":{"name":"editor"') < out.index('{"after":{"name":"viewer"')
    assert "2026-01-01 12:02:00" in out and "tenant-admin" not in out
    assert " acme " in out and " role.created " in out and " success " in out
    assert "next page: --cursor " in out


def test_list_follows_the_cursor(cli: Cli, rg: Rolegate) -> None:
    rg.tenants.create("acme")
    newest_first = rg.audit.events(tenant="acme", limit=1000).items

    first = cli.json("audit", "list", "--tenant", "acme", "--limit", "3")
    second = cli.json(
        "audit", "list", "--tenant", "acme", "--limit", "3", "--cursor", first["next_cursor"]
    )

    seen = [event["id"] for event in first["events"] + second["events"]]
    assert seen == [str(event.id) for event in newest_first[:6]]


def test_list_filters(cli: Cli, rg: Rolegate, clock: FakeClock) -> None:
    rg.tenants.create("acme")
    clock.advance(timedelta(days=2))  # to 2026-01-03 12:00 UTC
    rg.permissions.update("acme", "rolegate:check", audited=True)

    def actions(*args: str) -> list[str]:
        listed = cli.json("audit", "list", "--tenant", "acme", "--limit", "1000", *args)
        return [event["action"] for event in listed["events"]]

    assert actions("--since", "2026-01-02") == ["permission.updated"]
    before = actions("--until", "2026-01-03T12:00:00+00:00")
    assert "tenant.created" in before and "permission.updated" not in before
    assert actions("--action", "permission.u*", "--target", "permission") == ["permission.updated"]
    assert actions("--action", "tenant.created", "--outcome", "success") == ["tenant.created"]
    assert actions("--actor", "nobody") == []


def test_list_escapes_what_people_typed(
    cli: Cli, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Rolegate(database_url, actor=HOSTILE) as hostile:
        hostile.tenants.create("acme")  # the actor column
        with pytest.raises(InvalidCredentials):
            hostile.auth.login(HOSTILE, "guess", tenant="acme", user_agent=HOSTILE)  # details
    monkeypatch.setenv("COLUMNS", "1000")  # one line per row: a forged line would stand alone

    out = cli.ok("audit", "list")

    assert "\x1b" not in out and "\r" not in out
    assert not any(line.startswith("FAKE LINE") for line in out.splitlines())
    assert "mallet\\r\\nFAKE LINE [bold]x[/bold] \\x1b[31mred" in out  # actor, visible
    assert '"username":"mallet\\r\\nFAKE LINE [bold]x[/bold] \\u001b[31mred"' in out  # JSON


def test_list_refuses_a_bad_date(cli: Cli) -> None:
    text = usage_error(cli.invoke("audit", "list", "--since", "yesterday"))

    assert "Invalid value for '--since': 'yesterday' is neither an ISO 8601 date" in text


def test_list_reports_a_bad_filter(cli: Cli) -> None:
    assert cli.fails("audit", "list", "--cursor", "garbage").startswith("error: ")


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-01-01", datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026-01-01T08:30:00", datetime(2026, 1, 1, 8, 30, tzinfo=UTC)),
        ("2026-01-01T08:30:00Z", datetime(2026, 1, 1, 8, 30, tzinfo=UTC)),
        (
            "2026-01-01T08:30:00+02:00",
            datetime(2026, 1, 1, 8, 30, tzinfo=timezone(timedelta(hours=2))),
        ),
    ],
)
def test_dates_without_a_time_zone_are_utc(text: str, moment: datetime) -> None:
    parsed = parse_moment(text)

    assert parsed == moment and parsed.utcoffset() == moment.utcoffset()


@pytest.mark.parametrize(
    ("text", "ago"),
    [("90d", timedelta(days=90)), ("P1W", timedelta(weeks=1)), ("PT36H", timedelta(hours=36))],
)
def test_a_duration_is_that_long_ago(text: str, ago: timedelta) -> None:
    before = datetime.now(UTC)
    parsed = parse_moment(text)
    after = datetime.now(UTC)

    assert before - ago <= parsed <= after - ago


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("0d", "'0d' is not a positive duration"),
        ("P1M", "'P1M' counts years or months"),
        ("P9999999D", "'P9999999D' ago is before the year 1"),
        ("soon", "'soon' is neither an ISO 8601 date (2026-01-31), a datetime"),
    ],
)
def test_a_bad_moment_says_what_is_wrong(cli: Cli, text: str, says: str) -> None:
    assert f"Invalid value for '--since': {says}" in cli.fails("audit", "list", "--since", text)


def test_prune_before_a_duration_ago(cli: Cli, rg: Rolegate) -> None:
    rg.tenants.create("acme")  # stamped by the fake clock, long before a day ago

    out = cli.ok("audit", "prune", "--before", "1d", "--tenant", "acme", "--yes")

    assert "Pruned audit chains" in out
    assert [event.action for event in chain_events(rg, "acme")] == ["audit.pruned"]


def test_export_writes_json_lines_oldest_first(cli: Cli, rg: Rolegate, clock: FakeClock) -> None:
    rg.tenants.create("acme")
    clock.advance(timedelta(minutes=1))
    rg.roles.create("acme", "viewer")
    stored = rg.audit.events(tenant="acme", limit=1000).items

    out = cli.ok("audit", "export", "--tenant", "acme")

    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == len(stored)
    assert [line["seq"] for line in lines] == list(range(1, len(stored) + 1))
    assert lines[0]["action"] == "tenant.created" and lines[-1]["action"] == "role.created"
    assert lines[-1] == stored[0].as_json()


def test_export_of_every_chain_goes_chain_by_chain(cli: Cli, rg: Rolegate) -> None:
    rg.tenants.create("acme")
    rg.users.create("bob")
    rg.tenants.create("other")

    lines = [json.loads(line) for line in cli.ok("audit", "export").splitlines()]

    assert len(lines) == len(list(rg.audit.export()))
    chains = [line["chain_id"] for line in lines]
    assert len(set(chains)) >= 3
    for chain in set(chains):
        seqs = [line["seq"] for line in lines if line["chain_id"] == chain]
        assert seqs == sorted(seqs)
        first, last = chains.index(chain), len(chains) - chains[::-1].index(chain)
        assert set(chains[first:last]) == {chain}  # one block per chain


def test_export_to_a_file(cli: Cli, rg: Rolegate, tmp_path: Path) -> None:
    rg.tenants.create("acme")
    stored = chain_events(rg, "acme")
    path = tmp_path / "acme.jsonl"

    out = cli.ok("audit", "export", "--tenant", "acme", "--action", "tenant.*", "-o", str(path))

    assert out == f"exported 1 event to {path}\n"
    [line] = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(line) == stored[0].as_json()


def test_export_of_an_unknown_tenant_makes_no_file(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "nope.jsonl"

    message = cli.fails("audit", "export", "--tenant", "nope", "--output", str(path))

    assert message == "error: tenant 'nope' not found"
    assert not path.exists()


def test_export_to_an_unwritable_place(cli: Cli, rg: Rolegate, tmp_path: Path) -> None:
    rg.tenants.create("acme")

    message = cli.fails("audit", "export", "--tenant", "acme", "--output", str(tmp_path))

    assert message.startswith(f"error: cannot write {tmp_path}: ")


def test_export_of_nothing_is_empty(cli: Cli, rg: Rolegate, tmp_path: Path) -> None:
    path = tmp_path / "none.jsonl"

    out = cli.ok("audit", "export", "--actor", "nobody", "--output", str(path))

    assert out == f"exported 0 events to {path}\n"
    assert path.read_text(encoding="utf-8") == ""


def test_export_escapes_control_characters(cli: Cli, database_url: str) -> None:
    # C1 CSI, NEL, a line separator, a bidi override and a private-use character beyond the BMP
    unprintable = HOSTILE + "\x9b31m \x85 \u2028 \u202e \U000f0000 né"
    with Rolegate(database_url, actor=unprintable) as hostile:
        hostile.tenants.create("acme")

    out = cli.ok("audit", "export", "--tenant", "acme", "--action", "tenant.created")

    assert out.isascii() is False and "né" in out  # readable names, not \u escapes
    assert all(ch.isprintable() for ch in out.rstrip("\n"))
    assert len(out.splitlines()) == 1
    assert json.loads(out)["actor"] == unprintable
    assert "\\u009b31m \\u0085 \\u2028 \\u202e \\udb80\\udc00 né" in out


def test_verify_reports_intact_chains(cli: Cli, rg: Rolegate) -> None:
    rg.tenants.create("acme")

    out = cli.ok("audit", "verify")

    assert "Audit chains" in out
    row = next(line for line in out.splitlines() if " acme " in line)
    events = len(chain_events(rg, "acme"))
    assert row.split() == ["│", "acme", "│", str(events), "│", str(events), "│", "0", "│"] + [
        "intact",
        "│",
    ]
    assert "BROKEN" not in out


def test_verify_finds_an_edited_event(cli: Cli, rg: Rolegate) -> None:
    rg.tenants.create("acme")
    edited = event_at(rg, "acme", 3)
    with rg.db.engine.begin() as connection:
        connection.execute(
            update(AuditEventRecord).where(AuditEventRecord.id == edited.id).values(actor="mallory")
        )

    result = cli.invoke("audit", "verify")

    assert result.exit_code == 1, result.output
    assert "BROKEN" in result.stdout
    assert f"chain acme broken at event {edited.id} (seq 3): " in result.stdout
    assert result.stderr.startswith("error: 1 of ")


def test_verify_finds_a_deleted_event(cli: Cli, rg: Rolegate) -> None:
    rg.tenants.create("acme")
    rg.tenants.create("other")
    removed = event_at(rg, "acme", 2)
    with rg.db.engine.begin() as connection:
        connection.execute(delete(AuditEventRecord).where(AuditEventRecord.id == removed.id))
    [report] = rg.audit.verify(tenant="acme")
    assert report.broken_at is not None

    result = cli.invoke("audit", "verify", "--tenant", "acme")

    assert result.exit_code == 1, result.output
    assert f"chain acme broken at event {report.broken_at} (seq {report.broken_seq})" in (
        result.stdout
    )
    assert "other" not in result.stdout
    assert result.stderr == "error: 1 of 1 audit chains broken\n"


def test_verify_as_json(cli: Cli, rg: Rolegate) -> None:
    rg.tenants.create("acme")
    acme = rg.tenants.get("acme")

    [report] = cli.json("audit", "verify", "--tenant", str(acme.id))

    assert report["label"] == "acme" and report["problem"] is None
    assert report["events"] == report["last_seq"] == len(chain_events(rg, "acme"))


def test_verify_finds_a_deleted_tenants_chain_by_its_id(cli: Cli, rg: Rolegate) -> None:
    acme = rg.tenants.create("acme")
    rg.tenants.delete("acme")

    out = cli.ok("audit", "verify", "--tenant", str(acme.id))

    assert str(acme.id) in out and "intact" in out


def test_seal_signs_every_chain_head(cli: Cli, rg: Rolegate) -> None:
    rg.tenants.create("acme")
    head = chain_events(rg, "acme")[-1].seq

    out = cli.ok("audit", "seal", "--tenant", "acme")

    assert "Sealed chain heads" in out
    [key] = [k for k in rg.keys.list() if k.is_signing]
    row = next(line for line in out.splitlines() if " acme " in line)
    assert f" {head} " in row and key.kid in row
    [report] = rg.audit.verify(tenant="acme")
    assert report.seals == 1 and report.is_intact


def test_seal_of_every_chain(cli: Cli, rg: Rolegate) -> None:
    rg.tenants.create("acme")
    rg.users.create("bob")  # users belong to no tenant: the global chain

    out = cli.ok("audit", "seal")

    assert " acme " in out and " global " in out
    assert all(report.seals == 1 for report in rg.audit.verify())


def test_prune_removes_old_events_and_the_rest_verifies(
    cli: Cli, rg: Rolegate, clock: FakeClock
) -> None:
    rg.tenants.create("acme")  # 2026-01-01 12:00 UTC
    old = len(chain_events(rg, "acme"))
    clock.advance(timedelta(days=10))
    rg.roles.create("acme", "viewer")

    out = cli.ok("audit", "prune", "--before", "2026-01-05", "--tenant", "acme", "--yes")

    assert "Pruned audit chains" in out
    row = next(line for line in out.splitlines() if " acme " in line)
    assert f" {old} " in row
    left = [event.action for event in chain_events(rg, "acme")]
    assert left == ["role.created", "audit.pruned"]
    assert "intact" in cli.ok("audit", "verify")


def test_prune_asks_first(cli: Cli, rg: Rolegate) -> None:
    rg.tenants.create("acme")
    stored = len(chain_events(rg, "acme"))

    result = cli.invoke("audit", "prune", "--before", "2030-01-01", "--tenant", "acme", input="n\n")

    assert result.exit_code == 1, result.output
    assert "Delete the events older than 2030-01-01T00:00:00+00:00" in result.stderr
    assert len(chain_events(rg, "acme")) == stored


def test_prune_says_when_nothing_is_old_enough(cli: Cli, rg: Rolegate) -> None:
    rg.tenants.create("acme")

    out = cli.ok("audit", "prune", "--before", "2025-01-01T00:00:00Z", "--yes")

    assert out == "nothing to prune: no event is older than 2025-01-01T00:00:00+00:00\n"


@pytest.mark.parametrize("tenant", ["acme", None])
def test_prune_accepts_yes_on_stdin(cli: Cli, rg: Rolegate, tenant: str | None) -> None:
    rg.tenants.create("acme")  # 2026-01-01 12:00 UTC, the fake clock's time
    scope = ["--tenant", tenant] if tenant else []

    result = cli.invoke("audit", "prune", "--before", "2026-01-02", *scope, input="y\n")

    assert result.exit_code == 0, result.output
    assert " acme " in result.stdout
    assert all(report.is_intact for report in rg.audit.verify())


def test_prune_refuses_a_bad_date(cli: Cli) -> None:
    text = usage_error(cli.invoke("audit", "prune", "--before", "31/12/2025", "--yes"))

    assert "Invalid value for '--before': '31/12/2025' is neither" in text


def test_prune_needs_a_date(cli: Cli) -> None:
    assert "Missing option '--before'" in usage_error(cli.invoke("audit", "prune", "--yes"))


@pytest.mark.parametrize("command", ["list", "export", "verify", "seal"])
def test_an_unknown_tenant_is_an_error(cli: Cli, command: str) -> None:
    assert cli.fails("audit", command, "--tenant", "nope") == "error: tenant 'nope' not found"


def test_prune_of_an_unknown_tenant_fails_before_asking(cli: Cli) -> None:
    message = cli.fails("audit", "prune", "--before", "2026-01-01", "--tenant", "nope")

    assert message == "error: tenant 'nope' not found"


def test_an_unknown_tenant_id_has_an_empty_trail(cli: Cli) -> None:
    listed = cli.json("audit", "list", "--tenant", str(UUID(int=7)))

    assert listed == {"events": [], "next_cursor": None}
