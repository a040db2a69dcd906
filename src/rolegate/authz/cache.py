"""The authorizer: compiled snapshots in a bounded, precisely invalidated in-memory cache.

The hot path (:meth:`Authorizer.check`, bound from :class:`rolegate.authz.check.Checks`) is
one dict lookup and one frozenset membership test on a snapshot compiled earlier; it takes no
lock and touches no database. Writers invalidate
under a lock. Every committed change carries a policy revision: changes made through this
process are applied at commit, changes made by other processes arrive through
:class:`rolegate.authz.watch.ChangeWatcher`, and ``at_least`` makes a caller wait until a given
revision has been applied (reading it from the database at once if need be).

Every catch-up that reads the revision also confirms to :class:`Freshness` that the process
is current; once it has not for longer than the bound, compiling or refreshing a snapshot
raises :class:`PolicyStale` instead (the warm path is switched by the facade).
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from rolegate.authz.changes import Change, Scope
from rolegate.authz.check import Checks, Key
from rolegate.authz.compile import (
    REVISION,
    PolicySource,
    compile_policy,
    compile_snapshot,
    read_revision,
)
from rolegate.authz.freshness import Freshness
from rolegate.authz.holders import HolderPage, holders_page
from rolegate.authz.snapshot import Snapshot, TenantPolicy, is_permission_name
from rolegate.db.engine import Database
from rolegate.db.lookup import find_tenant
from rolegate.db.models import MembershipRecord, PolicyChangeRecord, TenantRecord, UserRecord
from rolegate.errors import StorageError, TenantNotFound
from rolegate.types import Ref


@dataclass(frozen=True, slots=True)
class CacheStats:
    """A reading of the authorization cache."""

    snapshots: int  # compiled (user, tenant) snapshots held
    policies: int  # compiled tenant policies held
    compiles: int  # snapshots compiled since start (misses and invalidations)
    revision: int  # newest policy revision applied


class Authorizer:
    """Answers checks from compiled snapshots; compiles on a miss, invalidates on change."""

    def __init__(
        self,
        db: Database,
        *,
        timer: Callable[[], float],
        freshness: Freshness,
        capacity: int = 100_000,
        refresh_on_demand: bool = False,
    ) -> None:
        self._db, self._timer, self._capacity = db, timer, capacity
        self.freshness = freshness
        # With no watcher to confirm, a check past the bound reads the revision itself (one
        # caller at a time, and not again for a while after a failure).
        self._refresh_on_demand = refresh_on_demand
        self._refreshing = threading.Lock()
        self._next_refresh = 0.0
        # Told of every change applied after the cache (:meth:`subscribe`), so state outside
        # authorization (sessions, keys) follows the same log, from this process or another.
        self._listeners: list[Callable[[Sequence[Change]], None]] = []
        self._entries: dict[Key, Snapshot] = {}
        # The eviction's clock: every cached key, in the order it was cached or passed over
        # (it may still hold keys forgotten since; the sweep skips those, and ``_store``
        # rebuilds it once they outnumber the live ones).
        self._ring: deque[Key] = deque()
        self._policies: dict[UUID, TenantPolicy] = {}
        self._by_user: defaultdict[UUID, set[Key]] = defaultdict(set)
        self._by_tenant: defaultdict[UUID, set[Key]] = defaultdict(set)
        self._by_role: defaultdict[UUID, set[Key]] = defaultdict(set)
        self._unknown: set[Key] = set()  # snapshots of names that did not exist yet
        self._lock = threading.RLock()
        self._generation = 0  # bumped by every invalidation; guards compiles against races
        self._file = _file_identity(db)  # SQLite: the file whose revision confirms currency
        started = time.monotonic()
        with db.reading() as session:  # nothing is compiled yet: start from the present
            self._revision = read_revision(session)  # every change up to it has been applied
        freshness.confirm(started)
        self._compiles = 0
        self._own: set[int] = set()  # revisions committed here, applied ahead of the log
        checks = Checks(
            self._entries,
            snapshot=self.snapshot,
            wait_for=self.wait_for,
            revision=lambda: self._revision,
            timer=timer,
            freshness=freshness,
        )
        # The checks' own bound methods: a check through the facade is one frame.
        self.check = checks.check
        self.check_many = checks.check_many
        self.attach, self.detach = checks.attach, checks.detach

    def subscribe(self, listener: Callable[[Sequence[Change]], None]) -> None:
        """Tell ``listener`` of every change this authorizer applies from now on, after its own
        invalidations, whether committed here (:meth:`apply_own`) or read from the change log
        (:meth:`catch_up`)."""
        self._listeners.append(listener)

    @property
    def revision(self) -> int:
        """The newest policy revision whose changes this process has applied."""
        return self._revision

    def stats(self) -> CacheStats:
        """What the cache holds and how often it had to compile."""
        return CacheStats(len(self._entries), len(self._policies), self._compiles, self._revision)

    @property
    def snapshots(self) -> Mapping[Key, Snapshot]:
        """The compiled snapshots by (tenant, user) as callers named them; read without a lock
        by the checks (:mod:`rolegate.authz.check`), which call :meth:`snapshot` on a miss."""
        return self._entries

    def snapshot(self, tenant: Hashable, user: Hashable) -> Snapshot:
        """The snapshot of (``user``, ``tenant``), valid now: cached, refreshed or compiled."""
        if self.freshness.is_stale:
            self._assert_current()
        key = (tenant, user)
        now = self._timer()
        cached = self._entries.get(key)
        if cached is not None:
            cached.recency.used = True
            if cached.valid_until > now:
                return cached
            fresh = cached.at(now)  # an assignment expired: recompute from the snapshot alone
            with self._lock:
                if self._entries.get(key) is cached:
                    self._entries[key] = fresh
            return fresh
        return self._compile(key, now)

    def _assert_current(self) -> None:
        """Raise :class:`PolicyStale` unless a confirmation comes in time; without a watcher,
        try one read of the revision first."""
        if not self._refresh_on_demand:
            if self.freshness.notice():
                raise self.freshness.stale_error()
            return
        if time.monotonic() >= self._next_refresh and self._refreshing.acquire(blocking=False):
            try:
                self.catch_up()
            except StorageError:
                self._next_refresh = time.monotonic() + min(1.0, self.freshness.max_staleness)
            finally:
                self._refreshing.release()
        if not self.freshness.is_stale:
            return
        if time.monotonic() < self._next_refresh:  # a read failed: an outage, say so
            self.freshness.notice()
        raise self.freshness.stale_error()

    def _compile(self, key: Key, now: float) -> Snapshot:
        self._compiles += 1
        generation = self._generation
        with self._db.reading() as session:
            snapshot = compile_snapshot(
                session,
                user=_ref(key[1]),
                tenant=_ref(key[0]),
                now=now,
                policy_source=self._policy_source(generation),
            )
        with self._lock:
            if generation == self._generation:  # nothing was invalidated while compiling
                self._store(key, snapshot)
        return snapshot

    def warm_up(self, tenant: Hashable | None = None) -> int:
        """Compile the snapshot of every member (of ``tenant``, or of all tenants) by slug and
        username, up to the cache's capacity; return how many are cached."""
        with self._db.reading() as session:
            query = (
                select(TenantRecord.slug, UserRecord.username)
                .join(MembershipRecord, MembershipRecord.tenant_id == TenantRecord.id)
                .join(UserRecord, UserRecord.id == MembershipRecord.user_id)
                .order_by(TenantRecord.slug, UserRecord.username_key)
                .limit(self._capacity)
            )
            if tenant is not None:
                found = find_tenant(session, _ref(tenant))
                if found is None:
                    raise TenantNotFound(str(tenant))
                query = query.where(TenantRecord.id == found.id)
            members = session.execute(query).all()
        for slug, username in members:
            self.snapshot(slug, username)
        return len(self._entries)

    def holders(
        self, permission: str, *, tenant: Hashable, cursor: str | None, limit: int
    ) -> HolderPage:
        """One page of who holds ``permission`` in ``tenant`` (see :func:`holders_page`)."""
        if self.freshness.is_stale:
            self._assert_current()
        generation = self._generation
        with self._db.reading() as session:
            tenant_row = find_tenant(session, _ref(tenant))
            if tenant_row is None:
                raise TenantNotFound(str(tenant))
            if not is_permission_name(permission):
                return HolderPage((), None)  # an invalid name is held by nobody
            source = self._policy_source(generation)
            policy = source(session, tenant_row.id, tenant_row.slug, read_revision(session))
            now = datetime.fromtimestamp(self._timer(), UTC)
            return holders_page(session, policy, permission, now=now, cursor=cursor, limit=limit)

    def _policy_source(self, generation: int) -> PolicySource:
        """Cached tenant policies, compiling a missing one; a policy whose compile overlapped an
        invalidation (the generation moved) is used for that one answer but never cached."""

        def policy(session: Session, tenant_id: UUID, slug: str, revision: int) -> TenantPolicy:
            found = self._policies.get(tenant_id)
            if found is None:
                found = compile_policy(session, tenant_id, slug, revision)
                with self._lock:
                    if generation == self._generation:
                        self._policies.setdefault(tenant_id, found)
            return found

        return policy

    def _store(self, key: Key, snapshot: Snapshot) -> None:
        if key in self._entries:
            self._forget(key)  # replaced: its place on the clock stays
        else:
            while len(self._entries) >= self._capacity:
                self._evict()
            self._ring.append(key)
            if len(self._ring) > 2 * len(self._entries) + 1024:
                self._ring = deque(self._entries)  # drop the keys forgotten since
                self._ring.append(key)
        self._entries[key] = snapshot
        if snapshot.user_id is None or snapshot.tenant_id is None:
            self._unknown.add(key)
        if snapshot.user_id is not None:
            self._by_user[snapshot.user_id].add(key)
        if snapshot.tenant_id is not None:
            self._by_tenant[snapshot.tenant_id].add(key)
        for role_id in snapshot.footprint:
            self._by_role[role_id].add(key)

    def _evict(self) -> None:
        """Forget one snapshot not read for longest, approximately: the CLOCK algorithm.

        An exact LRU (an OrderedDict, or cachetools' LRUCache) must move an entry on every
        hit, under a lock: several times the cost of the lock-free lookup (docs/benchmarks.md,
        *Snapshot cache*); CLOCK only needs the hit to set a flag. The sweep passes over keys in
        the order they were cached: a snapshot read since the last pass gets a second chance
        (flag cleared, key sent to the back), the first one not read is evicted. After one full
        turn every flag is clear, so a sweep ends within one turn and costs O(1) per eviction on
        average.
        """
        ring, entries = self._ring, self._entries
        while ring:
            key = ring.popleft()
            snapshot = entries.get(key)
            if snapshot is None:
                continue  # forgotten since (an invalidation)
            if snapshot.recency.used:
                snapshot.recency.used = False
                ring.append(key)
            else:
                self._forget(key)
                return
        # Unreachable while every cached key is on the clock; never loop on an empty ring.
        self._forget(next(iter(entries)))

    def _forget(self, key: Key) -> None:
        snapshot = self._entries.pop(key, None)
        if snapshot is None:
            return
        self._unknown.discard(key)
        if snapshot.user_id is not None:
            _discard(self._by_user, snapshot.user_id, key)
        if snapshot.tenant_id is not None:
            _discard(self._by_tenant, snapshot.tenant_id, key)
        for role_id in snapshot.footprint:
            _discard(self._by_role, role_id, key)

    def apply(self, changes: Sequence[Change], *, revision: int | None = None) -> None:
        """Invalidate what ``changes`` make stale; with ``revision``, record it as applied."""
        with self._lock:
            self._generation += 1
            for change in changes:
                self._invalidate(change)
            if changes:
                for listener in self._listeners:
                    listener(changes)
            if revision is not None and revision > self._revision:
                self._revision = revision

    def apply_own(self, changes: Sequence[Change], revision: int) -> None:
        """Apply a change this process just committed, and remember it, so reading it back
        from the change log does not drop what was compiled since (a second time)."""
        with self._lock:
            self.apply(changes)
            if revision == self._revision + 1:
                self._revision = revision  # nothing from other processes lies in between
            elif revision > self._revision:
                self._own.add(revision)

    def _invalidate(self, change: Change) -> None:
        if change.scope in (Scope.USER, Scope.TENANT):
            self._forget_all(self._unknown)  # a new name may now exist
        if change.scope is Scope.TENANT and change.tenant_id is not None:
            self._policies.pop(change.tenant_id, None)
            self._forget_all(self._by_tenant.get(change.tenant_id, ()))
        elif change.scope is Scope.ROLE and change.subject_id is not None:
            if change.tenant_id is not None:
                self._policies.pop(change.tenant_id, None)
            self._forget_all(self._by_role.get(change.subject_id, ()))
        elif change.scope is Scope.USER and change.subject_id is not None:
            self._forget_all(self._by_user.get(change.subject_id, ()))
        elif change.scope is Scope.MEMBER and change.subject_id is not None:
            keys = self._by_user.get(change.subject_id, set())
            self._forget_all(k for k in keys if self._entries[k].tenant_id == change.tenant_id)

    def _forget_all(self, keys: Iterable[Key]) -> None:
        for key in list(keys):
            self._forget(key)

    def catch_up(self) -> int:
        """Apply every change committed since :attr:`revision` (from any process); return the
        revision now applied."""
        started = time.monotonic()  # what the read confirms: everything committed before it
        self._assert_same_file()
        # The common case, nothing new, costs one bare read (every API request makes it).
        if (self._db.scalar(REVISION) or 0) <= self._revision:
            self.freshness.confirm(started)
            return self._revision
        with self._db.reading() as session:
            current = read_revision(session)
            if current <= self._revision:
                self.freshness.confirm(started)
                return self._revision
            rows = session.execute(
                select(
                    PolicyChangeRecord.revision,
                    PolicyChangeRecord.scope,
                    PolicyChangeRecord.tenant_id,
                    PolicyChangeRecord.subject_id,
                )
                .where(
                    PolicyChangeRecord.revision > self._revision,
                    PolicyChangeRecord.revision <= current,
                )
                .order_by(PolicyChangeRecord.id)
            ).all()
        with self._lock:
            foreign = [r for r in rows if r.revision not in self._own]
            self.apply(
                [Change(Scope(r.scope), r.tenant_id, r.subject_id) for r in foreign],
                revision=current,
            )
            self._own = {revision for revision in self._own if revision > current}
        self.freshness.confirm(started)
        return current

    def _assert_same_file(self) -> None:
        """SQLite: pooled connections keep reading a file moved or replaced under them, which
        no other process writes to any more; such a read confirms nothing."""
        if self._file is not None and _file_identity(self._db) != self._file:
            raise StorageError("the SQLite database file was moved, replaced or removed")

    def wait_for(self, revision: int | None) -> None:
        """Return once every change up to ``revision`` has been applied (reading them now);
        ``None`` asks for no particular revision."""
        if revision is not None and revision > self._revision:
            self.catch_up()


def _discard(index: defaultdict[UUID, set[Key]], ident: UUID, key: Key) -> None:
    keys = index.get(ident)
    if keys is not None:
        keys.discard(key)
        if not keys:
            del index[ident]


def _file_identity(db: Database) -> tuple[int, int] | None:
    """(device, inode) of a SQLite database file; None for other databases and in-memory
    ones, and (0, 0) when the file is gone."""
    path = db.url.database if db.is_sqlite else None
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    try:
        found = os.stat(path)
    except OSError:
        return (0, 0)
    return (found.st_dev, found.st_ino)


def _ref(value: Hashable) -> Ref:
    if isinstance(value, str | UUID):
        return value
    raise TypeError(f"expected a name or a UUID, got {type(value).__name__}")
