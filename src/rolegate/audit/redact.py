"""Redaction: secrets never reach the audit trail or the logs (ARCHITECTURE invariant 5)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final
from urllib.parse import unquote_plus

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


#: Query parameters that carry a credential though :func:`is_secret_key` would not say so: an
#: OAuth authorization ``code``, a signature, an assertion (RFC 6749 §4.1.2, RFC 7521).
_CREDENTIAL_PARAMETERS: Final = frozenset(
    {"code", "auth", "authorization", "jwt", "sig", "signature", "assertion", "session"}
)
#: Anything shaped like a JWS (RFC 7515 compact form: a JSON header starts ``eyJ``) or one of
#: our refresh tokens, wherever it appears in a path.
_TOKEN_SHAPED: Final = re.compile(
    r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*|rgr_[A-Za-z0-9_-]{8,}"
)


def is_credential_parameter(name: str) -> bool:
    """Whether a query parameter (any case, percent-encoded or not) carries a credential:
    ``access_token``, ``token``, ``code``, ``password``, ``api_key``, ``client_secret``..."""
    decoded = unquote_plus(name).strip().lower()
    return decoded in _CREDENTIAL_PARAMETERS or is_secret_key(decoded)


def redact_target(target: str) -> str:
    """A request target (path and query) fit for a log or the trail: the value of every
    credential-carrying query parameter replaced by ``[redacted]``, and any token-shaped
    string, in the path too, as well. RFC 6750 §5.3: bearer tokens never in page URLs, yet
    clients put them there (``?access_token=``), so a log must not keep them."""
    path, mark, query = target.partition("?")
    if mark:
        parts = []
        for part in query.split("&"):
            name, equals, _ = part.partition("=")
            parts.append(f"{name}={REDACTED}" if equals and is_credential_parameter(name) else part)
        path = f"{path}?{'&'.join(parts)}"
    return _TOKEN_SHAPED.sub(REDACTED, path)
