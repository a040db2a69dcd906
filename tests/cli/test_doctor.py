"""``rolegate doctor`` and the production guard of ``rolegate serve``: an unsafe configuration
is named setting by setting, and a production server refuses to start with it."""

from __future__ import annotations

import pytest

from tests.factories import Cli

SAFE_ENV = {
    "ROLEGATE_KEY_ENCRYPTION_KEY": "k" * 40,
    "ROLEGATE_ARGON2_MEMORY_KIB": "19456",
    "ROLEGATE_ARGON2_TIME_COST": "2",
}


@pytest.fixture
def production(bare_cli: Cli, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The CLI as a production deployment runs it, unsafe: cheap argon2 and no key encryption."""
    monkeypatch.setenv("ROLEGATE_ENV", "production")
    return bare_cli


def test_doctor_lists_each_finding_with_its_id(bare_cli: Cli) -> None:
    output = bare_cli.ok("doctor")  # development: findings are reported, not fatal
    assert "[security.E001] ROLEGATE_KEY_ENCRYPTION_KEY" in output
    assert "[security.E005] ROLEGATE_ARGON2_MEMORY_KIB" in output
    assert "warning: [security.W001] ROLEGATE_DATABASE_URL" in output


def test_doctor_fails_what_production_would_refuse(bare_cli: Cli) -> None:
    result = bare_cli.invoke("doctor", "--production")
    assert result.exit_code == 1
    assert "error: [security.E001]" in result.stdout


def test_doctor_passes_a_safe_configuration(bare_cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SAFE_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ROLEGATE_DATABASE_URL", "postgresql://rolegate@db.invalid/rolegate")
    assert bare_cli.ok("doctor", "--production").strip() == "no findings: safe for production"


def test_serve_refuses_an_unsafe_production_configuration(production: Cli) -> None:
    result = production.invoke("serve", "--port", "1")
    assert result.exit_code == 2
    assert "error: [security.E001] ROLEGATE_KEY_ENCRYPTION_KEY" in result.output
    assert "error: [security.E005] ROLEGATE_ARGON2_MEMORY_KIB" in result.output
    assert (
        result.output.rstrip().splitlines()[-1].startswith("error: refusing to serve in production")
    )


def test_a_bad_environment_name_is_one_error_line(
    bare_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROLEGATE_ENV", "staging")
    assert bare_cli.fails("doctor").startswith("error: invalid setting ROLEGATE_ENV")
