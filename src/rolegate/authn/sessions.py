"""Which sessions are still alive, remembered so that verifying a token costs no query.

An entry is dropped when a change ends its session, whichever process commits it (the change
log and watcher that keep authorization snapshots current do the same for sessions). A
generation counter keeps an answer read before such a change from being stored after it.
"""

from __future__ import annotations

import threading
from uuid import UUID


class SessionLiveness:
    """A bounded map of session id to "alive", invalidated by session changes."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._alive: dict[UUID, bool] = {}
        self._generation = 0
        self._lock = threading.Lock()

    @property
    def generation(self) -> int:
        """Read before loading an answer from the database; pass it to :meth:`remember`."""
        return self._generation

    def get(self, session_id: UUID) -> bool | None:
        """True or False if known, None when the database must be asked."""
        return self._alive.get(session_id)

    def remember(self, session_id: UUID, alive: bool, generation: int) -> None:
        """Store an answer read at ``generation``, unless a change arrived since."""
        with self._lock:
            if generation != self._generation:
                return
            if len(self._alive) >= self._capacity:
                self._alive.pop(next(iter(self._alive)))  # the oldest entry
            self._alive[session_id] = alive

    def forget(self, session_ids: list[UUID]) -> None:
        """Drop what is known of these sessions (they changed)."""
        with self._lock:
            self._generation += 1
            for session_id in session_ids:
                self._alive.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._alive)
