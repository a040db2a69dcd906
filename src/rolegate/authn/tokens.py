"""Access tokens (JWT, RFC 9068 profile, RFC 8725 practices) and opaque refresh tokens.

Signing and signature checks are PyJWT's. What PyJWT leaves to the caller is done here: the
algorithm comes from the key found by ``kid`` (never from the header alone), ``typ`` must be
``at+jwt``, any ``crit`` header is refused (no extension is understood), and time claims are
checked against the injected clock.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import jwt
from jwt.utils import base64url_decode

from rolegate.authn.keys import KeyRing, Signer
from rolegate.entities import Principal
from rolegate.errors import InvalidToken
from rolegate.types import SessionId, TenantId, UserId

TOKEN_TYPE: Final = "at+jwt"
_TYPES: Final = frozenset({"at+jwt", "application/at+jwt"})  # RFC 9068 §4: compare case-blind
_KID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: Longest token considered; a bound on the work a forged token can cause.
MAX_TOKEN_LENGTH: Final = 8192
_REQUIRED: Final = ["iss", "aud", "sub", "tid", "sid", "iat", "nbf", "exp", "jti"]

REFRESH_PREFIX: Final = "rgr_"  # recognisable by secret scanners


@dataclass(frozen=True, slots=True)
class TokenRules:
    """What every access token must say: who issued it, for whom, and how much skew to allow."""

    issuer: str
    audience: str
    algorithms: frozenset[str]  # the allowlist, from configuration
    leeway: float  # seconds, at most 30


def issue_access_token(
    signer: Signer,
    rules: TokenRules,
    *,
    user_id: uuid.UUID,
    tenant_id: uuid.UUID,
    session_id: uuid.UUID,
    issued_at: datetime,
    expires_at: datetime,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """A signed access token for one user in one tenant and session."""
    now, exp = int(issued_at.timestamp()), int(expires_at.timestamp())
    claims: dict[str, Any] = {
        **(extra or {}),
        "iss": rules.issuer,
        "aud": rules.audience,
        "sub": str(user_id),
        "tid": str(tenant_id),
        "sid": str(session_id),
        "iat": now,
        "nbf": now,
        "exp": exp,
        "jti": uuid.uuid4().hex,
    }
    headers = {"kid": signer.kid, "typ": TOKEN_TYPE}
    return jwt.encode(claims, signer.key, algorithm=signer.algorithm, headers=headers)


def decode_access_token(
    token: str, keys: KeyRing, rules: TokenRules, *, now: float, reload: Callable[[], None]
) -> tuple[Principal, float]:
    """The principal of a valid token and until when (POSIX seconds) that answer holds: ``exp``
    plus the leeway, or the end of the signing key's window if sooner. Else
    :class:`InvalidToken` with the reason for logs.

    ``reload`` is called once when the ``kid`` is unknown (another process may have rotated).
    """
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken(reason="malformed")
    header = _header(token)
    if str(header.get("typ", "")).lower() not in _TYPES:
        raise InvalidToken(reason="not_an_access_token")
    if "crit" in header:  # RFC 7515 §4.1.11: refuse extensions we do not understand
        raise InvalidToken(reason="critical_header")
    kid = header.get("kid")
    if not isinstance(kid, str) or not _KID.fullmatch(kid):
        raise InvalidToken(reason="bad_kid")  # only ever a dictionary key, never a path or query
    verifier = keys.verifier(kid)
    if verifier is None:
        reload()
        verifier = keys.verifier(kid)
        if verifier is None:
            raise InvalidToken(reason="unknown_kid")
    if header.get("alg") != verifier.algorithm or verifier.algorithm not in rules.algorithms:
        raise InvalidToken(reason="algorithm")  # the key decides the algorithm (RFC 8725 §3.1)
    if verifier.verify_until is not None and now > verifier.verify_until:
        raise InvalidToken(reason="key_retired")
    try:
        claims = jwt.decode(
            token,
            verifier.key,
            algorithms=[verifier.algorithm],
            audience=rules.audience,
            issuer=rules.issuer,
            # Time claims are checked below against the injected clock, not time.time().
            options={
                "require": _REQUIRED,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "strict_aud": True,
            },
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(reason=type(exc).__name__) from None
    principal = _principal(claims, now=now, leeway=rules.leeway)
    good_until = principal.expires_at.timestamp() + rules.leeway
    if verifier.verify_until is not None:  # a retired key vouches for nothing past its window
        good_until = min(good_until, verifier.verify_until)
    return principal, good_until


def _header(token: str) -> dict[str, Any]:
    """The JOSE header, read to find the key. Only the first segment is decoded here:
    ``jwt.get_unverified_header`` decodes and checks all three (30-70 µs, a third of a first
    verification), and ``jwt.decode`` checks the whole token again right after anyway."""
    try:
        header = json.loads(base64url_decode(token.partition(".")[0]))
    except (ValueError, TypeError, binascii.Error):
        raise InvalidToken(reason="malformed") from None
    if not isinstance(header, dict):
        raise InvalidToken(reason="malformed")
    return header


def _principal(claims: dict[str, Any], *, now: float, leeway: float) -> Principal:
    exp, nbf = claims["exp"], claims["nbf"]
    if not all(isinstance(v, int | float) for v in (exp, nbf, claims["iat"])):
        raise InvalidToken(reason="bad_time_claim")
    if now >= exp + leeway:
        raise InvalidToken(reason="expired")
    if now + leeway < nbf:
        raise InvalidToken(reason="not_yet_valid")
    try:
        user, tenant, session = (uuid.UUID(claims[c]) for c in ("sub", "tid", "sid"))
    except (TypeError, ValueError, AttributeError):
        raise InvalidToken(reason="bad_subject") from None
    return Principal(
        user_id=UserId(user),
        tenant_id=TenantId(tenant),
        session_id=SessionId(session),
        expires_at=datetime.fromtimestamp(exp, UTC),
        token_id=str(claims["jti"]),
    )


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (RFC 6750 §2.1), else None."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def new_refresh_token() -> tuple[str, str]:
    """A refresh token of 256 random bits and the SHA-256 hex digest that is all we store."""
    token = REFRESH_PREFIX + secrets.token_urlsafe(32)
    return token, refresh_token_hash(token)


def refresh_token_hash(token: str) -> str:
    """The stored form of a refresh token. One fast hash suffices: the token is 256 random bits,
    so there is nothing to brute-force (unlike a password)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
