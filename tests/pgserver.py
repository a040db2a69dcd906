"""A PostgreSQL server of a test's own, started from the installed binaries in a temporary
folder: a test may crash it (``pg_ctl -m immediate``) or stop it without touching the server the
rest of the suite shares."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL ``bin`` folder (Debian's layout), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PrivatePostgres:
    """``initdb`` in a temporary folder and a server on a free loopback port. As root, the
    server runs as the ``postgres`` user, which PostgreSQL requires."""

    def __init__(self, bindir: Path) -> None:
        self._bin = bindir
        self._root = Path(tempfile.mkdtemp(prefix="rolegate-pg-"))
        self.port = _free_port()
        self._as_root = os.geteuid() == 0
        if self._as_root:
            shutil.chown(self._root, "postgres")
        self._run("initdb", "-D", str(self._data), "-A", "trust", "-U", "postgres")

    @property
    def _data(self) -> Path:
        return self._root / "data"

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of its ``postgres`` database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self._root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self._data),
            "-l",
            str(self._root / "log"),
            "-w",
            "-o",
            options,
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop it: ``fast`` ends sessions cleanly, ``immediate`` is a crash."""
        self._run("pg_ctl", "-D", str(self._data), "-m", mode, "-w", "stop", check=False)

    def remove(self) -> None:
        """Stop it if running and delete its files."""
        self.stop("immediate")
        shutil.rmtree(self._root, ignore_errors=True)

    def _run(self, program: str, *args: str, check: bool = True) -> None:
        command = [str(self._bin / program), *args]
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=check, capture_output=True, timeout=120)
