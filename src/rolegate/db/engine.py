"""The database handle: one SQLAlchemy engine, session factory and transaction scope."""

from __future__ import annotations

import logging
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from sqlalchemy import Connection, Engine, Executable, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    PendingRollbackError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from rolegate.errors import CommitOutcomeUnknown, ConcurrentChange, InvalidInput, StorageError

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
        with translating("the database failed"):
            with self.engine.connect() as connection:
                return connection.scalar(statement)

    @property
    def is_sqlite(self) -> bool:
        """True when the backend is SQLite (embedded default)."""
        return self.url.get_backend_name() == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Run a block in one transaction: commit on success, roll back on any error.

        Database errors leave as typed rolegate errors, wherever they happen (connecting,
        a statement, the commit, the rollback or closing the session). A unique or foreign-key
        violation becomes :class:`ConcurrentChange` (services check names and references first,
        so only a race reaches it); a connection lost while committing is
        :class:`CommitOutcomeUnknown` (the change may or may not be in); anything else the
        database refuses or fails with, such as a trigger aborting the audit insert or a server
        that went away, is a :class:`StorageError`: nothing was applied.
        """
        committing = False
        try:
            with self._writer() as session, session.begin():
                yield session
                session.flush()  # what the database refuses, it refuses here: COMMIT is left
                committing = True
        except IntegrityError as exc:
            if not _is_race(exc):
                log.warning("integrity error, rolled back: %s", exc.orig)
                raise StorageError(f"the database refused the change: {describe(exc)}") from exc
            log.info("integrity error, rolled back: %s", exc.orig)
            raise ConcurrentChange(
                "a concurrent change conflicts with this one; nothing was applied, retry"
            ) from exc
        except Exception as exc:
            if not is_storage_failure(exc):
                raise
            if committing and _is_outcome_unknown(exc):
                log.warning("database connection lost during COMMIT: %s", describe(exc))
                raise CommitOutcomeUnknown(
                    f"the database connection was lost while committing: {describe(exc)}"
                ) from exc
            log.warning("database error, rolled back: %s", describe(exc))
            raise StorageError(f"the database refused the change: {describe(exc)}") from exc

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads only; nothing it does is committed. Database errors, the final
        rollback's and the session close's too, become :class:`StorageError`."""
        with translating("the database failed"), self._reader() as session:
            try:
                yield session
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


def describe(exc: BaseException) -> str:
    """The first line of the driver's message: enough to act on, without the SQL."""
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    text = str(cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__


#: What SQLAlchemy raises when the database, not the code, failed: the driver's errors
#: (wrapped), a pool with no connection to give (its TimeoutError), a connection that died
#: (DisconnectionError), and a session whose transaction died with it (PendingRollbackError).
_SQLALCHEMY_FAILURES: Final = (DBAPIError, PoolTimeout, DisconnectionError, PendingRollbackError)


def is_storage_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is the database failing: an error SQLAlchemy raises for it, or a DB-API
    driver's own error that escaped unwrapped (sqlite3's, psycopg's, raised outside a
    statement, e.g. while closing a connection)."""
    return isinstance(exc, _SQLALCHEMY_FAILURES) or isinstance(exc, _driver_errors())


def _driver_errors() -> tuple[type[BaseException], ...]:
    # psycopg is optional: if it is not imported, none of its errors can exist.
    psycopg = sys.modules.get("psycopg")
    return (sqlite3.Error, psycopg.Error) if psycopg is not None else (sqlite3.Error,)


# SQLSTATE classes of a lost server rather than a refusal: connection exception (08), operator
# intervention (57: shutdown, crash), system error (58). A COMMIT that fails so, or with no
# SQLSTATE at all (no answer came), may have been applied before the answer was lost.
_LOST_SQLSTATE_CLASSES: Final = frozenset({"08", "57", "58"})


def _is_outcome_unknown(exc: BaseException) -> bool:
    """Whether a COMMIT that raised ``exc`` may have been applied all the same."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = exc.orig if exc.orig is not None else exc
    if isinstance(exc, sqlite3.Error):
        return False  # SQLite commits in this process: a failed COMMIT is rolled back
    if not isinstance(exc, _driver_errors()):
        return False  # SQLAlchemy refused before sending COMMIT
    sqlstate = getattr(exc, "sqlstate", None)
    return sqlstate is None or str(sqlstate)[:2] in _LOST_SQLSTATE_CLASSES


@contextmanager
def translating(failed: str) -> Iterator[None]:
    """Turn a database failure inside the block into a :class:`StorageError`."""
    try:
        yield
    except Exception as exc:
        if not is_storage_failure(exc):
            raise
        log.warning("%s: %s", failed, describe(exc))
        raise StorageError(f"{failed}: {describe(exc)}") from exc


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
