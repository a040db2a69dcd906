"""The decision trail's buffer: authorization decisions are recorded off the check's hot path.

A check appends its decision to the bounded in-memory :attr:`DecisionTrail.buffer` itself
(:mod:`rolegate.authz.check`); other producers call :meth:`DecisionTrail.offer`. Neither blocks
or touches the database, and a full buffer drops the decision and counts it (``dropped``,
exported by /metrics). A background
thread takes what is buffered in batches, turns each item into an audit entry (``describe``:
the explanation is worked out there, not in the check) and writes each batch in one transaction
(``write``). :meth:`close` stops the thread after writing everything still buffered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
Item = TypeVar("Item")

DEFAULT_CAPACITY: Final = 100_000
DEFAULT_BATCH: Final = 500
DEFAULT_INTERVAL: Final = 0.5  # seconds between writes when fewer than a batch are waiting
DEFAULT_SHARE: Final = 0.25  # of one core's time, at most, spent writing
MAX_BACKOFF: Final = 30.0  # seconds between retries while the database refuses writes


@dataclass(frozen=True, slots=True)
class TrailStats:
    """Counters since start: decisions written, dropped (buffer full, or the write failed for
    good), and how many wait in the buffer now."""

    written: int
    dropped: int
    buffered: int


def pause_after(busy: float, share: float) -> float:
    """How long the writer rests after ``busy`` seconds of writing, to take at most ``share``
    of the time: a flood of denials then costs the checks at most that share of the process
    (the GIL is one), and what the writer cannot keep up with waits in the buffer, or is
    dropped and counted when the buffer is full."""
    return busy * (1.0 - share) / share


class DecisionTrail(Generic[Item, T]):
    """A bounded buffer of decisions and the thread that writes them in batches."""

    def __init__(
        self,
        describe: Callable[[Item], T],
        write: Callable[[Sequence[T]], None],
        *,
        capacity: int = DEFAULT_CAPACITY,
        batch: int = DEFAULT_BATCH,
        interval: float = DEFAULT_INTERVAL,
        share: float = DEFAULT_SHARE,
    ) -> None:
        self._describe, self._write = describe, write
        self._capacity, self._batch, self._interval = capacity, batch, interval
        self._share = share
        self._stop = threading.Event()  # cuts a pause short at close
        # deque.append and popleft are atomic under the GIL: neither offer() nor a check that
        # appends to ``buffer`` itself (after comparing its length with the capacity) locks.
        self.buffer: deque[Item] = deque()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._drop_lock = threading.Lock()  # ``+=`` is not atomic, and checks run in many threads
        self.written = self.dropped = 0

    def offer(self, item: Item) -> None:
        """Buffer ``item`` for writing, or count it as dropped when the buffer is full."""
        buffer = self.buffer
        if len(buffer) >= self._capacity or self._stopping:
            self._count_dropped(1)
            return
        buffer.append(item)
        if self._thread is None:
            self._start()
        elif len(buffer) >= self._batch:
            self._wake.set()

    def stats(self) -> TrailStats:
        """The counters, now."""
        return TrailStats(self.written, self.dropped, len(self.buffer))

    def dropped_one(self) -> None:
        """Count one item refused by a full buffer (by a producer appending to it directly)."""
        self._count_dropped(1)

    def _count_dropped(self, count: int) -> None:
        with self._drop_lock:
            self.dropped += count

    def flush(self) -> None:
        """Write everything buffered now, in this thread (tests, and :meth:`close`)."""
        while self.buffer:
            if not self._write_batch():
                break

    def close(self, timeout: float = 10.0) -> None:
        """Stop taking decisions, write what is buffered, and stop the thread."""
        self._stopping = True
        thread = self._thread
        if thread is not None:
            self._stop.set()
            self._wake.set()
            thread.join(timeout)
        self.flush()
        if self.buffer:  # the database refused the last writes: nothing more can be done
            lost = len(self.buffer)
            self.buffer.clear()
            self._count_dropped(lost)
            log.error("audit: %d decision records could not be written at shutdown", lost)

    def start(self) -> None:
        """Start the writer now, for producers that append to :attr:`buffer` themselves (they
        never wake it: it wakes every ``interval``)."""
        self._start()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None and not self._stopping:
                self._thread = threading.Thread(
                    target=self._run, name="rolegate-decision-trail", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        backoff = self._interval
        while not self._stopping:
            self._wake.wait(backoff)
            self._wake.clear()
            backoff = self._interval
            while self.buffer and not self._stopping:
                started = time.perf_counter()
                if not self._write_batch():
                    backoff = min(MAX_BACKOFF, max(backoff, 0.5) * 2)  # the database is down
                    break
                self._stop.wait(pause_after(time.perf_counter() - started, self._share))

    def _write_batch(self) -> bool:
        """Write up to one batch; on failure put it back (in order) and return False."""
        taken: list[Item] = []
        buffer = self.buffer
        while buffer and len(taken) < self._batch:
            taken.append(buffer.popleft())
        try:
            self._write([self._describe(item) for item in taken])
        except Exception:
            log.exception("audit: writing %d decision records failed; will retry", len(taken))
            room = self._capacity - len(buffer)
            kept = taken[:room] if room > 0 else []
            buffer.extendleft(reversed(kept))
            self._count_dropped(len(taken) - len(kept))
            return False
        self.written += len(taken)
        return True
