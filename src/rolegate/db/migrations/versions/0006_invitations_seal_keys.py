"""invitations into tenants; signing keys carry their purpose (access tokens or audit seals)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 18:40:00

An account that already belongs to other tenants joins a new one only by accepting an
invitation, so ``invitations`` holds the pending ones. Audit seals get a key of their own, never
one that verifies access tokens: every existing key keeps signing tokens (``access``) and the
first seal after this revision makes an ``audit_seal`` key. Seals already made stay verifiable
from the stored public key of the token key that signed them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "invitations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("invited_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_invitations_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_invitations_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("tenant_id", "user_id", name=op.f("uq_invitations_tenant_id_user_id")),
    )
    op.create_index(op.f("ix_invitations_user_id"), "invitations", ["user_id"], unique=False)
    # A plain ADD COLUMN on every backend (no table copy on SQLite): existing keys sign tokens.
    op.add_column(
        "signing_keys",
        sa.Column("purpose", sa.String(length=20), server_default="access", nullable=False),
    )


def downgrade() -> None:
    # Without the column every key would sign and verify access tokens: a seal key must not
    # become one, so seal keys go (seals they signed no longer verify at the older revision).
    op.execute(sa.text("DELETE FROM signing_keys WHERE purpose <> 'access'"))
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.drop_column("purpose")
    op.drop_index(op.f("ix_invitations_user_id"), table_name="invitations")
    op.drop_table("invitations")
