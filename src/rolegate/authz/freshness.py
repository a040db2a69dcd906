"""Bounded staleness: how long a process may answer from what it has applied without hearing
from the database (ARCHITECTURE invariant 7).

Every successful read of the policy revision confirms that everything committed before the
read *began* has been applied; it pushes a monotonic deadline, :attr:`Freshness.fresh_until`,
to that start plus the bound. Past the deadline the process is stale, whatever the confirming
thread is doing: a read hung on a cut connection cannot hold it fresh, because nothing but
the clock is consulted. Checks that compile or refresh a snapshot compare the clock with the
deadline themselves; the warm path, which must not pay for a clock read, is switched by a
watchdog thread that sleeps until the deadline and reports the transition (see
``Rolegate.check``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from rolegate.errors import PolicyStale

log = logging.getLogger("rolegate.authz.freshness")


@dataclass(frozen=True, slots=True)
class FreshnessReading:
    """A reading of a process's freshness, for metrics and readiness."""

    is_stale: bool
    seconds_since_confirmed: float  # since the start of the last read that confirmed
    max_staleness: float  # the bound, in seconds
    stale_denials: int  # checks denied as stale since start


class Freshness:
    """The deadline until which this process's policy counts as current, and its watchdog."""

    def __init__(
        self,
        max_staleness: float,
        *,
        on_demand: bool = False,
    ) -> None:
        """``on_demand``: no watcher confirms; the checks do, when they find the deadline
        passed. Then a passed deadline is a reason to read, not an outage: it is logged and
        shown only once such a read has failed."""
        if max_staleness <= 0:
            raise ValueError("max_staleness must be positive")
        self.max_staleness = max_staleness
        self._clock = time.monotonic
        self._on_transition: Callable[[bool], None] | None = None  # see listen()
        # Stale until the first confirmation (the Authorizer's opening revision read).
        self.fresh_until = self._confirmed_at = time.monotonic() - max_staleness
        self._on_demand = on_demand
        self._reported_stale = False  # the owner was told (the warm path is switched)
        self._alarmed = False  # logged and shown as stale: one line per transition
        self._lock = threading.Lock()
        self._denials = 0
        self._stopped = threading.Event()
        self._watchdog = threading.Thread(
            target=self._watch, name="rolegate-freshness", daemon=True
        )

    def listen(self, on_transition: Callable[[bool], None]) -> None:
        """Call ``on_transition(stale)`` at each transition from now on (one listener: the
        checks, which switch their warm path)."""
        self._on_transition = on_transition

    @property
    def is_stale(self) -> bool:
        """Whether the deadline has passed: decided by the clock alone."""
        return self._clock() >= self.fresh_until

    def confirm(self, started: float) -> None:
        """A read that began at ``started`` (:func:`time.monotonic`) found nothing left to
        apply."""
        with self._lock:
            if started + self.max_staleness > self.fresh_until:
                self.fresh_until = started + self.max_staleness
                self._confirmed_at = started
            if self._reported_stale and not self.is_stale:
                self._report(stale=False)

    def notice(self) -> bool:
        """Whether stale now, after a confirmation failed or could not be had: reports and
        logs the transition at once if that has not been done yet."""
        if not self.is_stale:
            return False
        with self._lock:
            if self.is_stale:
                if not self._reported_stale:
                    self._report(stale=True)
                if not self._alarmed:
                    self._alarm()
        return self.is_stale

    def count_denial(self) -> None:
        """Count one check denied because the policy may be stale."""
        with self._lock:
            self._denials += 1

    def stale_error(self) -> PolicyStale:
        """The error a stale process answers with."""
        return PolicyStale(self._clock() - self._confirmed_at, bound=self.max_staleness)

    def reading(self) -> FreshnessReading:
        """Whether stale, since when confirmed, the bound, and how many checks it denied."""
        stale = self._alarmed or (not self._on_demand and self.is_stale)
        age = max(0.0, self._clock() - self._confirmed_at)
        return FreshnessReading(stale, age, self.max_staleness, self._denials)

    def start(self) -> None:
        """Start the watchdog."""
        self._watchdog.start()

    def stop(self) -> None:
        """Stop the watchdog and wait for it."""
        self._stopped.set()
        if self._watchdog.is_alive():
            self._watchdog.join(timeout=5)

    def _watch(self) -> None:
        # Sleep until the deadline; a confirmation meanwhile only moves it later, so waking
        # early costs one comparison. While stale, confirm() reports the way back itself.
        delay = 0.0
        while not self._stopped.wait(delay):
            try:
                self._expire()
            except Exception:  # a failing callback must not end the watchdog
                log.exception("freshness watchdog: reporting a transition failed")
            stale = self.is_stale
            remaining = self.fresh_until - self._clock()
            delay = self.max_staleness if stale else max(remaining, 0.001)

    def _expire(self) -> None:
        """The watchdog's: switch the warm path once the deadline has passed."""
        with self._lock:
            if self.is_stale and not self._reported_stale:
                self._report(stale=True)
                if not self._on_demand:
                    self._alarm()

    def _report(self, *, stale: bool) -> None:
        """Under the lock: record a transition and tell the owner."""
        self._reported_stale = stale
        if not stale and self._alarmed:
            self._alarmed = False
            log.warning("policy confirmed current again; checks answer from the cache again")
        if self._on_transition is not None:
            self._on_transition(stale)

    def _alarm(self) -> None:
        """Under the lock: log that the policy may be stale (once per transition)."""
        self._alarmed = True
        log.error(
            "policy may be stale: not confirmed current for %.1f s (bound %g s); "
            "checks deny until the database answers",
            self._clock() - self._confirmed_at,
            self.max_staleness,
        )
