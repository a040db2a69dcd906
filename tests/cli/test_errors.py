"""How the CLI fails: one ``error:`` line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from rolegate.cli._errors import GuardedGroup
from tests.factories import Cli, error_line, usage_error

# Commands that name a tenant, each of which must say plainly that it does not exist.
TENANT_COMMANDS = [
    ["tenant", "delete", "nope", "--yes"],
    ["user", "list", "--tenant", "nope"],
    ["permission", "create", "nope", "documents:read"],
    ["permission", "list", "nope"],
    ["permission", "delete", "nope", "documents:read"],
    ["role", "create", "nope", "viewer"],
    ["role", "list", "nope"],
    ["role", "show", "nope", "viewer"],
    ["role", "delete", "nope", "viewer"],
    ["role", "grant", "nope", "viewer", "documents:read"],
    ["role", "revoke", "nope", "viewer", "documents:read"],
    ["role", "inherit", "nope", "editor", "viewer"],
    ["role", "uninherit", "nope", "editor", "viewer"],
    ["assign", "nope", "alice", "viewer"],
    ["unassign", "nope", "alice", "viewer"],
    ["assignment", "list", "nope"],
]


@pytest.mark.parametrize("args", TENANT_COMMANDS, ids=" ".join)
def test_an_unknown_tenant_is_one_error_line(cli: Cli, args: list[str]) -> None:
    assert cli.fails(*args) == "error: tenant 'nope' not found"


def test_an_unsupported_database_is_one_error_line(bare_cli: Cli) -> None:
    line = bare_cli.fails("--database-url", "mysql://db/rolegate", "tenant", "list")

    assert line == "error: unsupported database 'mysql': use sqlite or postgresql"


def test_a_bad_setting_is_one_error_line(bare_cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLEGATE_ARGON2_MEMORY_KIB", "lots")

    line = bare_cli.fails("tenant", "list")

    assert line.startswith("error: invalid setting ROLEGATE_ARGON2_MEMORY_KIB='lots': ")


# What an operator sets wrong, and the line that must tell them which variable to fix and why.
BAD_SETTINGS = {
    "type": (
        {"ROLEGATE_ARGON2_TIME_COST": "two"},
        "error: invalid setting ROLEGATE_ARGON2_TIME_COST='two': should be a valid integer, "
        "unable to parse string as an integer",
    ),
    "range": (
        {"ROLEGATE_INVITATION_TTL": "PT30S"},
        "error: invalid setting ROLEGATE_INVITATION_TTL='PT30S': "
        "should be greater than or equal to 1 minute",
    ),
    "cross-field": (
        {"ROLEGATE_SESSION_IDLE_TIMEOUT": "PT5M"},
        "error: invalid settings: ROLEGATE_SESSION_IDLE_TIMEOUT='PT5M' must be at least "
        "ROLEGATE_ACCESS_TOKEN_TTL='PT10M' (default)",
    ),
    "secret": (
        {"ROLEGATE_TOKEN_ALGORITHM": "HS256", "ROLEGATE_TOKEN_SECRET": "hunter2-too-short"},
        "error: invalid settings: ROLEGATE_TOKEN_ALGORITHM='HS256' needs "
        "ROLEGATE_TOKEN_SECRET='**********' of 32+ random bytes",
    ),
    "list": (
        {"ROLEGATE_TRUSTED_PROXIES": "[10.0.0.0/8]"},
        "error: invalid setting ROLEGATE_TRUSTED_PROXIES='[10.0.0.0/8]': not JSON "
        "(Expecting ',' delimiter)",
    ),
}


@pytest.mark.parametrize("command", [["serve", "--port", "8999"], ["doctor"]], ids=" ".join)
@pytest.mark.parametrize(("env", "expected"), BAD_SETTINGS.values(), ids=BAD_SETTINGS.keys())
def test_a_bad_setting_names_its_variable_value_and_problem(
    bare_cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
    env: dict[str, str],
    expected: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    line = bare_cli.fails(*command)

    assert line == expected
    assert "hunter2" not in line and "Value error" not in line


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("sqlite:////nonexistent-rolegate-dir/x.db", "unable to open database file"),
        ("not a url", "url"),
    ],
)
def test_a_database_that_cannot_be_opened_is_one_error_line(
    bare_cli: Cli, url: str, fragment: str
) -> None:
    line = bare_cli.fails("--database-url", url, "tenant", "list")

    assert fragment in line.lower()


def probe_app() -> typer.Typer:
    """An app with the real root group whose one command fails in a way rolegate never maps."""
    probe = typer.Typer(cls=GuardedGroup, pretty_exceptions_enable=False)

    @probe.callback()
    def root() -> None:
        """Make ``explode`` a subcommand, as every rolegate command is."""

    @probe.command()
    def explode() -> None:
        """Fail with an exception no layer of rolegate knows."""
        raise LookupError("the index is gone\nand this second line is not shown")

    return probe


def test_an_unexpected_error_is_one_error_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROLEGATE_DEBUG", raising=False)

    result = CliRunner().invoke(probe_app(), ["explode"])

    assert error_line(result) == "error: unexpected LookupError: the index is gone"


def test_debug_mode_reraises_unexpected_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLEGATE_DEBUG", "1")

    result = CliRunner().invoke(probe_app(), ["explode"])

    assert isinstance(result.exception, LookupError)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["frobnicate"], "No such command 'frobnicate'"),
        (["tenant", "create"], "Missing argument 'SLUG'"),
        (["role", "grant", "acme", "viewer"], "Missing argument 'PERMISSION'"),
        (["tenant", "list", "--yaml"], "No such option: --yaml"),
    ],
)
def test_usage_errors_exit_2(cli: Cli, args: list[str], message: str) -> None:
    assert message in usage_error(cli.invoke(*args))


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["check"], "error: Missing argument 'TENANT' (see 'rolegate check --help')"),
        (["frobnicate"], "error: No such command 'frobnicate' (see 'rolegate --help')"),
        (
            ["tenant", "list", "--yaml"],
            "error: No such option: --yaml (see 'rolegate tenant list --help')",
        ),
    ],
)
def test_a_usage_error_is_one_line_naming_the_help_to_read(args: list[str], line: str) -> None:
    """In a real process, as the README promises: one line on stderr, no panel, exit 2."""
    command = [sys.executable, "-c", "from rolegate.cli import main; main()", *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [line]
    assert result.stdout == ""


def test_help_stays_rich(bare_cli: Cli) -> None:
    assert "╭─" in bare_cli.ok("check", "--help")  # the panels are for help, not for errors


def test_help_lists_every_command(bare_cli: Cli) -> None:
    out = bare_cli.ok("--help")

    for command in ("db", "tenant", "user", "permission", "role", "assign", "unassign"):
        assert command in out
    for command in ("assignment", "check", "demo", "--database-url"):
        assert command in out


def test_the_console_script_shows_log_records_only_when_debugging(
    undecidable_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a real process only the error line reaches stderr, unless ``ROLEGATE_DEBUG=1``."""
    monkeypatch.delenv("ROLEGATE_DEBUG", raising=False)
    check = [sys.executable, "-c", "from rolegate.cli import main; main()"]
    check += ["--database-url", undecidable_url, "check", "default", "alice", "documents:read"]

    quiet = subprocess.run(check, capture_output=True, text=True, check=False)
    monkeypatch.setenv("ROLEGATE_DEBUG", "1")
    loud = subprocess.run(check, capture_output=True, text=True, check=False)

    assert quiet.returncode == loud.returncode == 2
    assert quiet.stderr.splitlines() == [
        "error: the check failed, so it was denied; set ROLEGATE_DEBUG=1 to see why"
    ]
    assert "check failed; denying" in loud.stderr and "Traceback" in loud.stderr
