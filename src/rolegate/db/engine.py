"""The database handle: one SQLAlchemy engine, session factory and transaction scope."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Executable, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from rolegate.errors import ConcurrentChange, InvalidInput, StorageError

log = logging.getLogger(__name__)


class Database:
    """Owns the engine; hands out sessions for reads and single transactions for changes."""

    def __init__(self, url: str | URL, *, echo: bool = False) -> None:
        self.url = _normalise_url(url)
        self.engine: Engine = create_engine(self.url, echo=echo, **_engine_options(self.url))
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        # Reads see one snapshot of the database from their first query to their last, so a
        # compiled authorization snapshot never mixes states from before and after a commit
        # (PostgreSQL's default READ COMMITTED would; SQLite's WAL readers already do this).
        reader = (
            self.engine
            if self.is_sqlite
            else self.engine.execution_options(isolation_level="REPEATABLE READ")
        )
        self._reader = sessionmaker(reader, expire_on_commit=False)
        self._writer = sessionmaker(
            self.engine.execution_options(rolegate_write=True), expire_on_commit=False
        )

    def scalar(self, statement: Executable) -> Any:
        """One value read on a bare connection, no ORM session: for reads on a hot path (about
        a quarter of a session's cost); database errors become :class:`StorageError`."""
        try:
            with self.engine.connect() as connection:
                return connection.scalar(statement)
        except DBAPIError as exc:
            log.warning("database error on read: %s", exc.orig)
            raise StorageError(f"the database failed: {describe(exc)}") from exc

    @property
    def is_sqlite(self) -> bool:
        """True when the backend is SQLite (embedded default)."""
        return self.url.get_backend_name() == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Run a block in one transaction: commit on success, roll back on any error.

        Database errors leave as typed rolegate errors. A unique or foreign-key violation
        becomes :class:`ConcurrentChange` (services check names and references first, so only a
        race reaches it); anything else the database refuses, such as a trigger aborting the
        audit insert, is a :class:`StorageError`.
        """
        with self._writer() as session:
            try:
                with session.begin():
                    yield session
            except IntegrityError as exc:
                if not _is_race(exc):
                    log.warning("integrity error, rolled back: %s", exc.orig)
                    raise StorageError(f"the database refused the change: {describe(exc)}") from exc
                log.info("integrity error, rolled back: %s", exc.orig)
                raise ConcurrentChange(
                    "a concurrent change conflicts with this one; nothing was applied, retry"
                ) from exc
            except DBAPIError as exc:
                log.warning("database error, rolled back: %s", exc.orig)
                raise StorageError(f"the database refused the change: {describe(exc)}") from exc

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads only; nothing it does is committed."""
        with self._reader() as session:
            try:
                yield session
            except DBAPIError as exc:
                log.warning("database error on read: %s", exc.orig)
                raise StorageError(f"the database failed: {describe(exc)}") from exc
            finally:
                session.rollback()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


# What another transaction committing first can cause: PostgreSQL SQLSTATEs unique_violation
# and foreign_key_violation, and SQLite's extended result codes for the same constraints.
_RACE_SQLSTATES = frozenset({"23505", "23503"})
_RACE_SQLITE_ERRORS = frozenset(
    {"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_FOREIGNKEY"}
)


def _is_race(exc: IntegrityError) -> bool:
    """Whether the violation can come from a concurrent change rather than from this one."""
    return (
        getattr(exc.orig, "sqlstate", None) in _RACE_SQLSTATES
        or getattr(exc.orig, "sqlite_errorname", None) in _RACE_SQLITE_ERRORS
    )


def describe(exc: DBAPIError) -> str:
    """The first line of the driver's message: enough to act on, without the SQL."""
    return str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc).__name__


def _normalise_url(url: str | URL) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InvalidInput(f"not a database URL: {url!r}") from None
    # A bare postgresql:// URL means psycopg 3, the driver rolegate depends on.
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise InvalidInput(f"unsupported database {parsed.drivername!r}: use sqlite or postgresql")
    return parsed


def _engine_options(url: URL) -> dict[str, Any]:
    if url.get_backend_name() == "sqlite":
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True}


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (SQLAlchemy docs,
        # "Serializable isolation / Savepoints / Transactional DDL" for pysqlite).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # Writers take SQLite's write lock up front: a deferred transaction that reads and then
        # writes fails at once with "database is locked" when another writer got there first,
        # whereas BEGIN IMMEDIATE waits for the lock (busy_timeout).
        is_write = connection.get_execution_options().get("rolegate_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if is_write else "BEGIN")
