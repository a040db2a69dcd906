"""Redaction: secrets never reach the audit trail or the logs (ARCHITECTURE invariant 5)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

REDACTED: Final = "[redacted]"

# A key is secret when any of these appears in it: "password_hash", "refresh_token", "api_key"...
_SECRET_MARKERS: Final = ("password", "secret", "token", "hash", "key", "credential")


def is_secret_key(key: str) -> bool:
    """Whether a mapping key names a secret, whose value must never be recorded."""
    lowered = key.lower()
    return any(marker in lowered for marker in _SECRET_MARKERS)


def redact(value: Any) -> Any:
    """Return ``value`` with every secret-named entry, at any depth, replaced by ``[redacted]``."""
    if isinstance(value, Mapping):
        return {k: REDACTED if is_secret_key(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value
