"""Password hashing (argon2id) and the password rules checked before a hash is made."""

from __future__ import annotations

import unicodedata
from typing import Final, Protocol

from argon2 import PasswordHasher as _Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError

from rolegate.errors import InvalidPassword

#: Longest password accepted, in UTF-8 bytes: bounds the hashing work an attacker can ask for.
MAX_PASSWORD_BYTES: Final = 1024


class PasswordHasher(Protocol):
    """What rolegate needs from a password hasher; :class:`Argon2Hasher` is the default."""

    def hash(self, password: str) -> str: ...
    def verify(self, password: str, encoded: str) -> bool: ...
    def needs_rehash(self, encoded: str) -> bool: ...


class Argon2Hasher:
    """argon2id with OWASP's minimum parameters by default (m=19 MiB, t=2, p=1; RFC 9106)."""

    def __init__(
        self, *, memory_kib: int = 19_456, time_cost: int = 2, parallelism: int = 1
    ) -> None:
        self._argon2 = _Argon2(
            memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism, type=Type.ID
        )

    def hash(self, password: str) -> str:
        """Return the encoded argon2id hash (salt and parameters included) of ``password``."""
        return self._argon2.hash(password)

    def verify(self, password: str, encoded: str) -> bool:
        """Whether ``password`` matches ``encoded``; a malformed hash is a mismatch, not a crash."""
        try:
            return self._argon2.verify(encoded, password)
        except (VerificationError, InvalidHashError, UnicodeEncodeError):
            # argon2-cffi encodes a hash as ASCII (and a password as UTF-8) before parsing it
            return False

    def needs_rehash(self, encoded: str) -> bool:
        """Whether ``encoded`` was made with other parameters than the configured ones."""
        try:
            return self._argon2.check_needs_rehash(encoded)
        except InvalidHashError:
            return True


def normalise_password(password: str, *, min_length: int) -> str:
    """Return the NFKC form of ``password`` or raise :class:`InvalidPassword` saying why.

    NIST SP 800-63B-4: normalise, never truncate, never case-fold, no composition rules.
    """
    normal = unicodedata.normalize("NFKC", password)
    try:
        size = len(normal.encode())
    except UnicodeEncodeError:  # a lone surrogate, as JSON "\ud800" or a mis-decoded argv gives
        raise InvalidPassword("password is not valid Unicode text") from None
    if size > MAX_PASSWORD_BYTES:
        raise InvalidPassword(f"password longer than {MAX_PASSWORD_BYTES} bytes")
    if len(normal) < min_length:
        raise InvalidPassword(f"password shorter than {min_length} characters")
    return normal
