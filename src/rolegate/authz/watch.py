"""Keeping a process's compiled snapshots current with changes other processes commit.

On PostgreSQL every mutating transaction sends ``NOTIFY rolegate_policy`` at commit; a watcher
thread LISTENs and catches up within milliseconds, and also reads the revision every
``confirm_every`` seconds: a notification can be lost with a dropped connection, and silence
proves nothing, while a read that answers confirms the process is current (see
:mod:`rolegate.authz.freshness`). On SQLite, which has no notifications, the watcher reads the
one-row revision every ``interval`` seconds: a primary-key read of a few microseconds.

The listening connection has timeouts (connect, and TCP user timeout for a peer that stops
acknowledging), so a cut network ends in an error and a reconnect, not a thread hung forever;
either way the staleness deadline passes by the clock alone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Final

from rolegate.db.engine import Database

log = logging.getLogger(__name__)

CHANNEL: Final = "rolegate_policy"


class ChangeWatcher:
    """A daemon thread calling ``catch_up`` whenever another process may have committed."""

    def __init__(
        self,
        db: Database,
        catch_up: Callable[[], int],
        *,
        interval: float = 0.05,
        fallback: float = 1.0,
        confirm_every: float = 0.25,
        timeout: float = 5.0,
    ) -> None:
        self._db, self._catch_up = db, catch_up
        self._interval, self._fallback = interval, fallback
        self._confirm_every, self._timeout = confirm_every, timeout
        self._failing = False  # logged once when reads start failing, once when they work again
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rolegate-watcher", daemon=True)

    def start(self) -> None:
        """Start watching."""
        self._thread.start()

    def stop(self) -> None:
        """Stop watching and wait for the thread to end."""
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        if self._db.is_sqlite:
            while not self._stopped.wait(self._interval):
                self._safe_catch_up()
        else:
            while not self._stopped.is_set():
                try:
                    self._listen()
                except Exception:
                    if not self._failing:
                        log.warning(
                            "policy change listener lost its connection; reconnecting",
                            exc_info=True,
                        )
                        self._failing = True
                    self._stopped.wait(min(self._fallback, self._confirm_every))

    def _listen(self) -> None:
        import psycopg  # PostgreSQL only: an optional dependency

        conninfo = self._db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        seconds = max(1, round(self._timeout))
        with psycopg.connect(
            conninfo,
            autocommit=True,
            connect_timeout=seconds,
            tcp_user_timeout=seconds * 1000,  # libpq: ms unacknowledged before the link is dead
            keepalives=1,
            keepalives_idle=seconds,
            keepalives_interval=1,
            keepalives_count=3,
        ) as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            self._safe_catch_up()  # whatever committed before LISTEN took effect
            while not self._stopped.is_set():
                for _ in connection.notifies(timeout=self._confirm_every, stop_after=1):
                    pass
                self._safe_catch_up()

    def _safe_catch_up(self) -> None:
        try:
            self._catch_up()
        except Exception:
            if not self._failing:
                log.warning("could not read policy changes; will retry", exc_info=True)
                self._failing = True
            return
        if self._failing:
            log.warning("policy changes are read again")
            self._failing = False
