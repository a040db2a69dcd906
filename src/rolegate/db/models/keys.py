"""Token signing keys: the private part encrypted when a key-encryption key is configured."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from rolegate.db.base import Base


class SigningKeyRecord(Base):
    """A signing key. The newest unretired key of the configured algorithm signs; a retired key
    still verifies until ``verify_until``, when every token it signed has expired."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(10))
    public_jwk: Mapped[dict[str, Any]]
    private_key: Mapped[str] = mapped_column(Text)  # PKCS#8 PEM, encrypted when ``encrypted``
    encrypted: Mapped[bool]
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]
    verify_until: Mapped[datetime | None]
