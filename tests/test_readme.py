"""The README's library example runs exactly as written, in a fresh directory."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from rolegate import Rolegate

README = Path(__file__).parent.parent / "README.md"


def library_example() -> str:
    """The first Python code block of the README's "Use it as a library" section."""
    section = README.read_text().split("## Use it as a library", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "the README lost its library example"
    return match.group(1)


def test_readme_example_runs_as_written(tmp_path: Path) -> None:
    example = library_example()
    assert 'Rolegate("sqlite:///app.db")' in example
    result = subprocess.run(
        [sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    with Rolegate(f"sqlite:///{tmp_path / 'app.db'}") as rg:
        assert not rg.check("alice", "documents:read", tenant="acme")  # unassigned at the end
        assert rg.roles.get("acme", "editor").permissions == ("documents:write", "reports:*")
        assert rg.roles.get("acme", "auditor").inherits == ("viewer",)
        assert rg.users.get("alice").has_password
