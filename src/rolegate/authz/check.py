"""The check: the warm path every authorization question takes, and the hand-off of its
decisions to the decision trail.

:class:`Checks` answers from compiled snapshots held in a dict keyed by ``(tenant, user)`` as
callers name them. A warm check is one dict lookup and one frozenset membership test (a pattern
walk only for policies that grant patterns); it takes no lock and touches no database. A miss,
an expired assignment or an ``at_least`` takes the slow path (:meth:`Checks.snapshot`).

A decision the trail wants (every denial; allows of audited permissions, or sampled) is handed
to a :class:`DecisionSink` as one ``deque.append`` of a :data:`DecisionRecord`: the snapshot it
was decided from, the permission, the key, the time and the request's origin. Everything else
(the reason, the chains, the event) is derived on the writer's thread. A full buffer refuses the
record and counts it; the check never waits.

Every failure denies (ARCHITECTURE invariant 3), and a policy that may be stale denies with
reason ``stale`` (invariant 7): when the policy turns stale, the warm mapping is swapped for an
empty one, so every check takes the slow path, which raises :class:`PolicyStale`, without one
more attribute or clock read on the warm path.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, Final, Protocol

from rolegate.authz.decision import Reason
from rolegate.authz.freshness import Freshness
from rolegate.authz.snapshot import Snapshot
from rolegate.builtins import DEFAULT_TENANT_SLUG
from rolegate.errors import PolicyStale

log = logging.getLogger(__name__)

Key = tuple[Hashable, Hashable]  # (tenant reference, user reference) exactly as callers pass them

#: What one decision was made from: the snapshot, the permission, the tenant and the user as
#: the caller named them (a snapshot has no id for an unknown name), the check's time (POSIX
#: seconds), the request's origin (what :attr:`DecisionSink.context` returned) and the action
#: to record for a denial (None: a check's own). One flat tuple: a check builds one per denial,
#: any object's ``__init__`` would cost several times as much, and every container kept in the
#: buffer is one more object for the garbage collector to track.
DecisionRecord = tuple[Snapshot, str, Hashable, Hashable, float, Any, str | None]

_NOTHING: Final[Mapping[Key, Snapshot]] = {}  # the warm mapping while the policy is stale


class DecisionSink(Protocol):
    """Where checks hand their decisions, read by a writer thread elsewhere (the audit layer).

    A check appends to :attr:`buffer` itself, after comparing its length with
    :attr:`capacity`: no call and no lock between the decision and the buffer.
    """

    #: Records waiting for the writer. Appended to by checks, taken from the left by the writer
    #: (``append`` and ``popleft`` are atomic under the GIL).
    buffer: deque[DecisionRecord]
    #: The most records :attr:`buffer` may hold; a check finding it full calls :meth:`dropped`.
    capacity: int
    #: Read by a check to capture the request's origin (a ``ContextVar``'s bound ``get``).
    context: Callable[[], Any]
    #: Whether any allow may be recorded besides those of audited permissions.
    samples_allows: bool

    def dropped(self) -> None:
        """Count a record refused because the buffer was full."""

    def should_record_allow(self, snapshot: Snapshot, permission: str) -> bool:
        """Whether an allow is recorded: an audited permission, or drawn in the sample."""


def _nothing() -> None:
    return None


class Checks:
    """The check and ``check_many`` over compiled snapshots.

    ``snapshots`` is the cache's own dict, read without a lock; ``snapshot`` is the slow path
    (cached, refreshed or compiled), ``wait_for`` catches up to a revision, and ``revision``
    reads the one applied. :class:`Authorizer` builds one over its cache and exposes its
    bound methods as its own, so a check through the facade is one frame.
    """

    def __init__(
        self,
        snapshots: Mapping[Key, Snapshot],
        *,
        snapshot: Callable[[Hashable, Hashable], Snapshot],
        wait_for: Callable[[int | None], None],
        revision: Callable[[], int],
        timer: Callable[[], float],
        freshness: Freshness,
    ) -> None:
        self._snapshots: Mapping[Key, Snapshot] = snapshots
        self._warm = snapshots
        self._snapshot, self._wait_for, self._revision = snapshot, wait_for, revision
        self._timer, self._freshness = timer, freshness
        freshness.listen(self._staleness_changed)
        self.attach(None)

    def attach(self, sink: DecisionSink | None) -> None:
        """Hand decisions to ``sink`` from now on (None: record none). The check reads the
        sink's buffer, capacity and context from its own attributes: one load each."""
        self._sink = sink
        self._buffer = sink.buffer if sink is not None else None
        self._capacity_left = sink.capacity if sink is not None else 0  # 0 once detached
        self._context: Callable[[], Any] = sink.context if sink is not None else _nothing
        self._dropped: Callable[[], None] = sink.dropped if sink is not None else _nothing
        self._samples_allows = sink is not None and sink.samples_allows

    def detach(self) -> None:
        """Buffer no more decisions (the trail is closing): each is counted as dropped."""
        self._capacity_left = 0

    def check(
        self,
        user: Hashable,
        permission: str,
        *,
        tenant: Hashable = DEFAULT_TENANT_SLUG,
        at_least: int | None = None,
    ) -> bool:
        """Whether ``user`` may do ``permission`` in ``tenant``; any failure denies.

        With ``at_least`` (a revision a change returned), the answer reflects that change.
        """
        # The hot path, kept flat on purpose (every attribute and call costs tens of ns).
        key = (tenant, user)
        try:
            snapshot = self._warm.get(key)
            if (
                snapshot is None
                or at_least is not None
                or (snapshot.expiring and snapshot.valid_until <= self._timer())
            ):
                if at_least is not None:
                    self._wait_for(at_least)
                snapshot = self._snapshot(tenant, user)
            else:
                snapshot.recency.used = True  # eviction spares the snapshots read since a sweep
            allowed = permission in snapshot.exact or (
                snapshot.has_patterns and snapshot.grants.pattern_covers(permission)
            )
            if not allowed:  # the decision trail takes every denial: one append
                buffer = self._buffer
                if buffer is not None:
                    if len(buffer) < self._capacity_left:
                        at, origin = self._timer(), self._context()
                        buffer.append((snapshot, permission, tenant, user, at, origin, None))
                    else:
                        self._dropped()
            elif snapshot.audited or self._samples_allows:
                self._record_allow(snapshot, permission, key)
        except PolicyStale:  # logged once per transition, not per check
            self._record_stale(key, permission)
            return False
        except Exception:
            log.exception(
                "check failed; denying (user=%r tenant=%r permission=%r)",
                str(user),
                str(tenant),
                permission,
            )
            return False
        return allowed

    def check_many(
        self,
        user: Hashable,
        permissions: Iterable[str],
        *,
        tenant: Hashable = DEFAULT_TENANT_SLUG,
        at_least: int | None = None,
    ) -> list[bool]:
        """One answer per permission, in order, for one user; any failure denies them all, but
        a stale policy raises :class:`PolicyStale` (every permission recorded as denied)."""
        wanted = list(permissions)
        key = (tenant, user)
        try:
            self._wait_for(at_least)
            snapshot = self._snapshot(tenant, user)
            exact, grants = snapshot.exact, snapshot.grants
            if not snapshot.has_patterns:
                answers = [permission in exact for permission in wanted]
            else:
                answers = [p in exact or grants.pattern_covers(p) for p in wanted]
            for permission, allowed in zip(wanted, answers, strict=True):
                if not allowed:
                    self._record(snapshot, permission, key)
                elif snapshot.audited or self._samples_allows:
                    self._record_allow(snapshot, permission, key)
        except PolicyStale:
            for permission in wanted:
                self._record_stale(key, permission)
            raise
        except Exception:
            log.exception("check_many failed; denying (user=%r tenant=%r)", str(user), str(tenant))
            return [False] * len(wanted)
        return answers

    def _record(self, snapshot: Snapshot, permission: str, key: Key) -> None:
        """Hand a decision to the sink, or count it dropped when the buffer is full."""
        buffer = self._buffer
        if buffer is None:
            return
        if len(buffer) < self._capacity_left:
            at, origin = self._timer(), self._context()
            buffer.append((snapshot, permission, key[0], key[1], at, origin, None))
        else:
            self._dropped()

    def _record_allow(self, snapshot: Snapshot, permission: str, key: Key) -> None:
        sink = self._sink
        if sink is not None and sink.should_record_allow(snapshot, permission):
            self._record(snapshot, permission, key)

    def _record_stale(self, key: Key, permission: str) -> None:
        """Hand a check denied as stale to the trail (kept while the database is down, dropped
        and counted when the buffer fills)."""
        self._freshness.count_denial()
        if self._sink is None:
            return
        cached = self._snapshots.get(key)
        snapshot = Snapshot.denied(
            Reason.STALE,
            tenant_id=cached.tenant_id if cached is not None else None,
            user_id=cached.user_id if cached is not None else None,
            revision=self._revision(),
        )
        self._record(snapshot, permission, key)

    def _staleness_changed(self, stale: bool) -> None:
        # The warm path reads ``_warm`` and nothing else: emptied, every check takes the slow
        # path, which compares the clock with the deadline and denies. No attribute or clock
        # read is added to the warm check for this (docs/benchmarks.md).
        self._warm = _NOTHING if stale else self._snapshots
