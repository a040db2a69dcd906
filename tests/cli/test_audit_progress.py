"""``audit verify`` and ``audit export`` draw a progress bar on a terminal's stderr only: a real
process with stderr on a pseudo-terminal, then piped, on each backend."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from rolegate import Rolegate

ROLEGATE = [sys.executable, "-c", "from rolegate.cli import main; main()"]
TENANTS = 30  # each tenant.create is a handful of events: a few hundred in all


@pytest.fixture
def busy(rg: Rolegate, database_url: str) -> str:
    """``database_url`` with some audit trail to verify and export."""
    for i in range(TENANTS):
        rg.tenants.create(f"t{i:02}")
    return database_url


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"FORCE_COLOR", "TTY_COMPATIBLE"}}
    return {**env, "COLUMNS": "120", "TERM": "xterm-256color", "ROLEGATE_AUTO_UPGRADE": "false"}


def on_a_terminal(*args: str, stdout: Path) -> tuple[int, bytes]:
    """Run ``rolegate *args`` with stderr on a pseudo-terminal and stdout into a file; the exit
    code and everything the terminal received."""
    leader, follower = pty.openpty()
    with stdout.open("wb") as out:
        process = subprocess.Popen(
            [*ROLEGATE, *args], stdout=out, stderr=follower, env=environment()
        )
    os.close(follower)
    seen = b""
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], 60)
            if not ready:
                break
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the follower side closed: the process is done
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
    return process.wait(timeout=60), seen


def piped(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*ROLEGATE, *args], capture_output=True, check=False, timeout=60, env=environment()
    )


def test_verify_shows_progress_on_a_terminal_and_nothing_piped(busy: str, tmp_path: Path) -> None:
    args = ("--database-url", busy, "audit", "verify", "--json")
    code, terminal = on_a_terminal(*args, stdout=tmp_path / "out.json")
    quiet = piped(*args)

    assert code == 0, terminal
    assert b"Verifying audit chains" in terminal and "━".encode() in terminal
    assert quiet.returncode == 0 and quiet.stderr == b""
    assert (tmp_path / "out.json").read_bytes() == quiet.stdout  # stdout untouched by the bar


def test_export_shows_progress_on_a_terminal_and_nothing_piped(busy: str, tmp_path: Path) -> None:
    args = ("--database-url", busy, "audit", "export")
    code, terminal = on_a_terminal(*args, stdout=tmp_path / "out.jsonl")
    quiet = piped(*args)

    assert code == 0, terminal
    assert b"Exporting audit events" in terminal and "━".encode() in terminal
    assert quiet.returncode == 0 and quiet.stderr == b""
    exported = (tmp_path / "out.jsonl").read_bytes()
    assert exported == quiet.stdout and exported.count(b"\n") > TENANTS


def test_a_failed_export_still_says_why_on_the_terminal(busy: str, tmp_path: Path) -> None:
    args = ("--database-url", busy, "audit", "export", "-o", str(tmp_path / "no" / "such.jsonl"))
    code, terminal = on_a_terminal(*args, stdout=tmp_path / "out")

    assert code == 2
    assert terminal.startswith(b"error: cannot write ") and terminal.count(b"\n") == 1
    assert b"Exporting" not in terminal  # nothing was drawn before the error: no bar to erase


def test_the_services_report_events_done_out_of_the_total(rg: Rolegate) -> None:
    """The callback behind the bar: ``(done, total)``, ending with the total, on each backend."""
    for i in range(3):
        rg.tenants.create(f"t{i}")
    stored = len(list(rg.audit.export()))
    verified: list[tuple[int, int]] = []
    exported: list[tuple[int, int]] = []

    reports = rg.audit.verify(progress=lambda done, total: verified.append((done, total)))
    events = list(rg.audit.export(progress=lambda done, total: exported.append((done, total))))
    one = rg.audit.verify(tenant="t1", progress=lambda done, total: verified.append((done, total)))

    assert verified[0] == (0, stored) and (stored, stored) in verified
    assert sum(report.events for report in reports) == stored
    assert exported[0] == (0, stored) and exported[-1] == (stored, stored) == (len(events),) * 2
    assert verified[-1] == (one[0].events, one[0].events)
    assert all(done <= total for done, total in verified + exported)
