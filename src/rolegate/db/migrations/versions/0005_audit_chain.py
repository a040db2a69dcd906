"""tamper-evident audit trail: hash chains, chain heads, signed anchors, audited permissions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 19:00:00

Every audit event joins its tenant's chain (the nil UUID's for events about no tenant): a number
``seq``, the previous event's hash and its own. Events already stored are chained here, per
chain in the order they occurred. A migration is frozen in time: the chain format (``v`` 1,
rolegate.audit.chain) is written out here, as docs/audit.md writes it for auditors.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

GENESIS = "0" * 64
GLOBAL_CHAIN = uuid.UUID(int=0)

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_NEW_EVENT_COLUMNS = (
    ("chain_id", sa.Uuid()),
    ("seq", sa.BigInteger()),
    ("prev_hash", sa.String(length=64)),
    ("hash", sa.String(length=64)),
    ("actor_ip", sa.String(length=64)),
    ("user_agent", sa.String(length=300)),
    ("request_id", sa.String(length=100)),
    ("outcome", sa.String(length=20)),
)
events = sa.table(
    "audit_events",
    sa.column("id", sa.Uuid()),
    sa.column("chain_id", sa.Uuid()),
    sa.column("seq", sa.BigInteger()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
    sa.column("occurred_at", sa.DateTime(timezone=True)),
    sa.column("tenant_id", sa.Uuid()),
    sa.column("actor", sa.String()),
    sa.column("action", sa.String()),
    sa.column("target_type", sa.String()),
    sa.column("target_id", sa.String()),
    sa.column("outcome", sa.String()),
    sa.column("details", _JSON),
)
chains = sa.table(
    "audit_chains",
    sa.column("chain_id", sa.Uuid()),
    sa.column("seq", sa.BigInteger()),
    sa.column("hash", sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        for name, type_ in _NEW_EVENT_COLUMNS:  # nullable until the events are chained
            batch_op.add_column(sa.Column(name, type_, nullable=True))
    op.create_table(
        "audit_chains",
        sa.Column("chain_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", name=op.f("pk_audit_chains")),
    )
    op.create_table(
        "audit_anchors",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("chain_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kid", sa.String(length=100), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_anchors")),
    )
    with op.batch_alter_table("audit_anchors", schema=None) as batch_op:
        batch_op.create_index("ix_audit_anchors_chain", ["chain_id", "seq"], unique=False)
    _chain_existing_events(op.get_bind())
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        for name in ("chain_id", "seq", "prev_hash", "hash", "outcome"):
            batch_op.alter_column(name, nullable=False)
        batch_op.create_unique_constraint(op.f("uq_audit_events_chain_id"), ["chain_id", "seq"])
        batch_op.create_index(
            "ix_audit_events_time", ["occurred_at", "chain_id", "seq"], unique=False
        )
    # A plain ALTER TABLE: a batch copy of ``permissions`` on SQLite would drop the old table,
    # and with foreign keys on, cascade the drop to every grant.
    op.add_column(
        "permissions",
        sa.Column("audited", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def _chain_existing_events(connection: sa.Connection) -> None:
    """Number and hash the events stored before chains existed, oldest first per chain."""
    heads: dict[uuid.UUID, tuple[int, str]] = {}
    rows = connection.execute(
        sa.select(events).order_by(events.c.occurred_at, events.c.id)
    ).mappings()
    for row in list(rows):
        chain = GLOBAL_CHAIN if row["tenant_id"] is None else row["tenant_id"]
        seq, prev = heads.get(chain, (0, GENESIS))
        digest = _digest(row, chain, seq + 1, prev)
        connection.execute(
            events.update()
            .where(events.c.id == row["id"])
            .values(chain_id=chain, seq=seq + 1, prev_hash=prev, hash=digest, outcome="success")
        )
        heads[chain] = (seq + 1, digest)
    if heads:
        connection.execute(
            chains.insert(),
            [{"chain_id": c, "seq": seq, "hash": digest} for c, (seq, digest) in heads.items()],
        )


def _digest(row: Any, chain: uuid.UUID, seq: int, prev: str) -> str:
    at: datetime = row["occurred_at"]
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    document = {
        "v": 1,
        "id": str(row["id"]),
        "chain": str(chain),
        "seq": seq,
        "prev": prev,
        "occurred_at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "tenant": None if row["tenant_id"] is None else str(row["tenant_id"]),
        "actor": row["actor"],
        "actor_ip": None,
        "user_agent": None,
        "request_id": None,
        "action": row["action"],
        "target_type": row["target_type"],
        "target_id": row["target_id"],
        "outcome": "success",
        "details": row["details"] or {},
    }
    canonical = json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def downgrade() -> None:
    op.drop_column("permissions", "audited")  # SQLite 3.35+ drops a column in place
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_time")
        batch_op.drop_constraint(op.f("uq_audit_events_chain_id"), type_="unique")
        for name, _ in reversed(_NEW_EVENT_COLUMNS):
            batch_op.drop_column(name)
    op.drop_table("audit_anchors")
    op.drop_table("audit_chains")
