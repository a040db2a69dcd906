"""Fill every table of a database, whatever revision it is at, with linked rows; read them back.

The filler knows no table by heart: it reflects the live schema (``MetaData.reflect``), takes
parents before children, and links each row to rows already there through every foreign key,
keeping columns shared by two keys (``tenant_id``) consistent. A row the database refuses (a
unique or check constraint) is skipped for the next combination of parents, inside a
savepoint. Column *types* come from the ORM models where a column still exists there, because
reflection on SQLite forgets them (a UUID reads back as ``CHAR(32)``); a column the models no
longer have keeps its reflected type.

What a table may hold is only overridden where a value must mean something (:data:`SEEDED_ONLY`).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import TypeDecorator

from rolegate.db.base import Base

#: Rows the filler adds to each table.
ROWS_PER_TABLE = 3
#: Tables that hold exactly the rows the migrations seed: the one ``policy_state`` row (id 1)
#: is the policy revision every transaction bumps; a second row would mean nothing.
SEEDED_ONLY = frozenset({"policy_state"})
#: How many rows of a parent table are offered as parents (the filler's own first).
_PARENTS_OFFERED = 12
#: Combinations of parents tried for one row before the filler gives up on it.
_ATTEMPTS = 200
_VERSION_TABLE = "alembic_version"
_NAMESPACE = uuid.UUID("6f1d3c52-8a51-4d1e-9b0e-6a3f3a1c2b7d")
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

Row = dict[str, Any]


@dataclass
class Filled:
    """What the filler put in: each table's primary key columns, and its rows as stored."""

    keys: dict[str, tuple[str, ...]] = field(default_factory=dict)
    rows: dict[str, list[Row]] = field(default_factory=dict)


def typed_tables(connection: Connection) -> dict[str, sa.TableClause]:
    """Every table in the database (but Alembic's), its columns typed as the models type them."""
    reflected = sa.MetaData()
    reflected.reflect(connection)
    return {
        name: _typed(table) for name, table in reflected.tables.items() if name != _VERSION_TABLE
    }


def count_rows(connection: Connection) -> dict[str, int]:
    """The number of rows in every table (but Alembic's)."""
    return {
        name: connection.scalar(sa.select(sa.func.count()).select_from(table)) or 0
        for name, table in typed_tables(connection).items()
    }


def fill(connection: Connection) -> Filled:
    """Add :data:`ROWS_PER_TABLE` linked rows to every table (but :data:`SEEDED_ONLY`)."""
    reflected = sa.MetaData()
    reflected.reflect(connection)
    filled = Filled()
    for table in reflected.sorted_tables:  # parents first
        if table.name == _VERSION_TABLE:
            continue
        filled.keys[table.name] = tuple(column.name for column in table.primary_key.columns)
        if table.name in SEEDED_ONLY:
            filled.rows[table.name] = []
            continue
        filled.rows[table.name] = _fill_table(connection, table, filled)
        assert len(filled.rows[table.name]) == ROWS_PER_TABLE, (
            f"could fill {table.name} with only {len(filled.rows[table.name])} rows: "
            "give the filler an override for it"
        )
    return filled


def read_back(
    connection: Connection, typed: sa.TableClause, row: Row, key: tuple[str, ...]
) -> Row | None:
    """The row of ``typed`` (from :func:`typed_tables`) with ``row``'s primary key."""
    found = connection.execute(
        sa.select(typed).where(*(typed.c[name] == row[name] for name in key))
    ).one_or_none()
    return None if found is None else found._asdict()


def _fill_table(connection: Connection, table: sa.Table, filled: Filled) -> list[Row]:
    """Rows for ``table``, each on the first parents that take it: children gather under the
    same parents (three roles in one tenant can inherit from each other), and a combination
    the database refuses (a unique or check constraint) is passed over in a savepoint."""
    typed = _typed(table)
    offers = _parent_offers(connection, table, filled)
    stored: list[Row] = []
    serial = itertools.count()
    for _ in range(ROWS_PER_TABLE):
        for parents in itertools.islice(_combinations(offers), _ATTEMPTS):
            number = next(serial)
            row = {
                column.name: _value(table.name, column, number)
                for column in typed.columns
                if column.name not in parents
            }
            row.update(parents)
            try:
                with connection.begin_nested():
                    inserted = connection.execute(typed.insert().values(row).returning(*typed.c))
                    stored.append(inserted.one()._asdict())
                break
            except IntegrityError:
                continue
    return stored


def _parent_offers(connection: Connection, table: sa.Table, filled: Filled) -> list[list[Row]]:
    """For each foreign key (widest first), the values it may take: those of the filler's own
    parent rows first, then of rows already there (such as the seeded tenants)."""
    offers: list[list[Row]] = []
    for fk in sorted(table.foreign_key_constraints, key=lambda fk: -len(fk.columns)):
        parent = _typed(fk.referred_table)
        local = [column.name for column in fk.columns]
        remote = [element.column.name for element in fk.elements]
        ours = [tuple(row[name] for name in remote) for row in filled.rows.get(parent.name, [])]
        theirs = connection.execute(
            sa.select(*(parent.c[name] for name in remote)).limit(_PARENTS_OFFERED)
        ).all()
        candidates = list(dict.fromkeys([*ours, *(tuple(found) for found in theirs)]))
        offers.append([dict(zip(local, values, strict=True)) for values in candidates])
    return offers


def _combinations(offers: list[list[Row]]) -> Iterator[Row]:
    """The foreign key values of one row, one consistent combination of parents at a time
    (a column shared by two keys, such as ``tenant_id``, has one value); for a table without
    foreign keys, empty ones for ever."""
    if not offers:
        yield from itertools.repeat({})
        return
    for combination in itertools.product(*offers):
        merged: Row = {}
        if all(_agrees(merged, part) for part in combination):
            yield merged


def _agrees(merged: Row, part: Mapping[str, Any]) -> bool:
    """Add ``part`` to ``merged`` unless a column they share has two values."""
    if any(name in merged and merged[name] != value for name, value in part.items()):
        return False
    merged.update(part)
    return True


def _typed(table: sa.Table) -> sa.TableClause:
    model = Base.metadata.tables.get(table.name)
    columns = [
        sa.column(
            column.name,
            model.c[column.name].type
            if model is not None and column.name in model.c
            else column.type,
        )
        for column in table.columns
    ]
    return sa.table(table.name, *columns)


def _value(table: str, column: sa.ColumnClause[Any], number: int) -> Any:
    """A value for ``column`` of the ``number``-th row: distinct per row, table and column."""
    type_ = column.type.impl_instance if isinstance(column.type, TypeDecorator) else column.type
    try:
        kind = type_.python_type
    except NotImplementedError:
        kind = str
    if kind is uuid.UUID:
        return uuid.uuid5(_NAMESPACE, f"{table}.{column.name}.{number}")
    if kind is bool:
        return number % 2 == 0
    if kind is int:
        return 1000 + number  # clear of the small ids migrations seed
    if kind is datetime:
        return _EPOCH + timedelta(days=number, minutes=len(column.name))
    if kind is dict:
        return {"filler": number, "column": column.name}
    text = f"{number}-{table}.{column.name}"
    length = getattr(type_, "length", None)
    return text[:length] if length else text
