"""Users: global identities that join tenants through memberships."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from rolegate.db.base import Base, Timestamps, uuid_pk


class UserRecord(Timestamps, Base):
    """A user account; ``*_key`` columns hold case-folded forms for case-insensitive uniqueness."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = uuid_pk()
    username: Mapped[str] = mapped_column(String(150))
    # Case-folded in Python (NFKC + casefold): SQL lower() is ASCII-only on SQLite.
    username_key: Mapped[str] = mapped_column(String(150), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    email_key: Mapped[str | None] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(512))
    is_active: Mapped[bool] = mapped_column(default=True)
    preferences: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_login_at: Mapped[datetime | None]
    #: Set when an administrator chose the password: the next login must change it.
    must_change_password: Mapped[bool] = mapped_column(default=False)
    password_changed_at: Mapped[datetime | None]
