"""The first start of ``rolegate serve``: the first platform admin, its banner, and a chosen
password the policy refuses (the server itself is run over HTTP in tests/api/test_serve.py)."""

from __future__ import annotations

import pytest

from rolegate import Rolegate
from rolegate.cli.serve import bootstrap
from rolegate.config import Settings
from tests.factories import BOOTSTRAP_PASSWORD, Cli


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short", "shorter than 12 characters"),
        ("admin-is-in-here-42", "contains the username"),
    ],
)
def test_a_refused_bootstrap_password_names_its_variable(
    cli: Cli, database_url: str, monkeypatch: pytest.MonkeyPatch, password: str, problem: str
) -> None:
    monkeypatch.setenv("ROLEGATE_BOOTSTRAP_PASSWORD", password)

    line = cli.fails("serve", "--port", "8999")

    assert line == f"error: ROLEGATE_BOOTSTRAP_PASSWORD is refused: {problem}"
    with Rolegate(database_url) as rg:
        assert not rg.platform.has_members()  # nothing half-made: the next start tries again


def test_a_random_bootstrap_password_is_shown_once(
    cli: Cli, capsys: pytest.CaptureFixture[str]
) -> None:
    bootstrap(Settings())

    banner = capsys.readouterr().err
    [shown] = [line.split()[-1] for line in banner.splitlines() if "password:" in line]
    assert len(shown) >= 20
    assert "It is random and shown once, here; set ROLEGATE_BOOTSTRAP_PASSWORD to choose it." in (
        banner
    )
    assert "works for one login, which must choose a new one" in banner

    bootstrap(Settings())

    assert capsys.readouterr().err == ""  # never again


def test_a_chosen_bootstrap_password_is_not_called_shown_once(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ROLEGATE_BOOTSTRAP_PASSWORD", BOOTSTRAP_PASSWORD)

    bootstrap(Settings())

    banner = capsys.readouterr().err
    assert "  password: (the one in ROLEGATE_BOOTSTRAP_PASSWORD)" in banner.splitlines()
    assert BOOTSTRAP_PASSWORD not in banner
    assert "once" not in banner and "random" not in banner
    assert "works for one login, which must choose a new one" in banner
