"""Shell completion and the help of every command, in a real process where it matters."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.main
from typer._click import Command

from rolegate.cli import app
from tests.factories import Cli

ROLEGATE = [sys.executable, "-c", "from rolegate.cli import main; main()"]


def run(*args: str, **environment: str) -> subprocess.CompletedProcess[str]:
    """Run the real ``rolegate`` console script with ``environment`` added."""
    env = {**os.environ, **environment}
    return subprocess.run(
        [*ROLEGATE, *args], capture_output=True, text=True, check=False, timeout=60, env=env
    )


def in_bash(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """Run ``rolegate *args`` from a bash: Typer detects the shell from the parent process."""
    command = " ".join(shlex.quote(word) for word in [*ROLEGATE, *args])
    env = {**os.environ, "HOME": str(home)}
    return subprocess.run(
        ["bash", "-c", f"{command}; exit $?"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=env,
    )


def test_show_completion_prints_the_script_for_the_shell(tmp_path: Path) -> None:
    result = in_bash("--show-completion", home=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "_rolegate_completion()" in result.stdout
    assert "complete -o default -F _rolegate_completion rolegate" in result.stdout


def test_install_completion_installs_the_script_for_the_shell(tmp_path: Path) -> None:
    result = in_bash("--install-completion", home=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "bash completion installed in" in result.stdout
    script = tmp_path / ".bash_completions" / "rolegate.sh"
    assert "_ROLEGATE_COMPLETE=complete_bash" in script.read_text()
    assert str(script) in (tmp_path / ".bashrc").read_text()


@pytest.mark.parametrize(
    ("words", "expected"),
    [("rolegate ten", "tenant"), ("rolegate tenant li", "list"), ("rolegate audit ver", "verify")],
)
def test_bash_completes_commands(words: str, expected: str) -> None:
    cword = str(len(words.split()) - 1)
    result = run(_ROLEGATE_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD=cword)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [expected]


def test_bash_completes_options() -> None:
    words = "rolegate tenant list --js"
    result = run(_ROLEGATE_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD="3")

    assert result.stdout.split() == ["--json"]


def test_the_root_help_offers_completion(bare_cli: Cli) -> None:
    out = bare_cli.ok("--help")

    assert "--install-completion" in out and "--show-completion" in out


def command_paths(command: Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The path of ``command`` and of every command below it."""
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from command_paths(sub, (*path, name))


EVERY_COMMAND = sorted(command_paths(typer.main.get_command(app)))


@pytest.mark.parametrize("path", EVERY_COMMAND, ids=lambda path: " ".join(path) or "rolegate")
def test_no_help_shows_a_type_for_a_flag(bare_cli: Cli, path: tuple[str, ...]) -> None:
    out = bare_cli.ok(*path, "--help")

    assert "--help" in out
    assert "<bool>" not in out and "BOOLEAN" not in out
