"""Token signing keys: the private part encrypted when a key-encryption key is configured."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from rolegate.db.base import Base

#: Signs access tokens; published in the JWKS.
ACCESS_TOKEN_KEY: Final = "access"
#: Signs audit seals and prune anchors only; never published, never verifies a token.
AUDIT_SEAL_KEY: Final = "audit_seal"


class SigningKeyRecord(Base):
    """A signing key. The newest unretired key of the configured algorithm signs; a retired key
    still verifies until ``verify_until``, when every token it signed has expired."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(10))
    #: What the key signs: :data:`ACCESS_TOKEN_KEY` or :data:`AUDIT_SEAL_KEY`, never both.
    purpose: Mapped[str] = mapped_column(String(20), server_default=ACCESS_TOKEN_KEY)
    public_jwk: Mapped[dict[str, Any]]
    private_key: Mapped[str] = mapped_column(Text)  # PKCS#8 PEM, encrypted when ``encrypted``
    encrypted: Mapped[bool]
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]
    verify_until: Mapped[datetime | None]
