"""Redaction: secrets never reach the audit trail or the logs (ARCHITECTURE invariant 5)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

REDACTED: Final = "[redacted]"

# A key is secret when any of these appears in it: "password_hash", "refresh_token", "api_key"...
_SECRET_MARKERS: Final = ("password", "secret", "token", "hash", "key", "credential")


@lru_cache(maxsize=4096)  # the same few keys come back in every event
def is_secret_key(key: str) -> bool:
    """Whether a mapping key names a secret, whose value must never be recorded."""
    lowered = key.lower()
    return any(marker in lowered for marker in _SECRET_MARKERS)


def redact(value: Any) -> Any:
    """Return ``value`` with every secret-named entry, at any depth, replaced by ``[redacted]``.

    Booleans and nulls under a secret name are kept: they say whether a secret exists, not what
    it is.
    """
    if isinstance(value, Mapping):
        return {k: _redact_entry(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


def _redact_entry(key: str, value: Any) -> Any:
    # A flag or a null says whether a secret exists, never what it is: keep it readable
    # (``user.created`` records ``has_password``, which would otherwise always read "[redacted]").
    if is_secret_key(key) and not isinstance(value, bool | None):
        return REDACTED
    return redact(value)
