"""Token signing keys: generation, encrypted storage form, public JWKs, and the in-memory ring
that signs and verifies with them.

Key handling is done by ``cryptography`` (generation, PKCS#8 with the configured key-encryption
key as the passphrase) and PyJWT (JWK forms); nothing here implements cryptography itself.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt import PyJWK
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from jwt.exceptions import PyJWKError

from rolegate.errors import InvalidConfiguration

#: Algorithms whose keys live in the database; HS256's secret comes from configuration.
ASYMMETRIC: Final = ("ES256", "EdDSA", "RS256")
SYMMETRIC: Final = "HS256"
RSA_BITS: Final = 3072  # NIST SP 800-57: 128-bit security, like P-256 and Ed25519

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey


def generate(algorithm: str) -> PrivateKey:
    """A fresh private key for ``algorithm`` (one of :data:`ASYMMETRIC`)."""
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    raise InvalidConfiguration(f"token_algorithm {algorithm!r} has no stored keys")


def new_kid(now: datetime) -> str:
    """A key id that sorts by creation day and cannot be guessed: ``20261122-k3Jx9QmZ2pLw``."""
    return f"{now:%Y%m%d}-{secrets.token_urlsafe(9)}"


def seal(key: PrivateKey, passphrase: bytes | None) -> str:
    """The private key as PKCS#8 PEM, encrypted with ``passphrase`` when one is configured."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()


def unseal(pem: str, passphrase: bytes | None, *, kid: str, encrypted: bool) -> PrivateKey:
    """The private key stored as ``pem``, or :class:`InvalidConfiguration` naming the setting.

    A key stored before a key-encryption key was configured is read as it was stored (and
    should be rotated, so the signing key is encrypted too).
    """
    if encrypted and not passphrase:
        raise InvalidConfiguration(
            f"signing key {kid!r} is encrypted: set key_encryption_key to the key it was made with"
        )
    try:
        key = serialization.load_pem_private_key(
            pem.encode(), password=passphrase if encrypted else None
        )
    except (ValueError, TypeError):
        raise InvalidConfiguration(
            f"signing key {kid!r} cannot be decrypted: check key_encryption_key"
        ) from None
    if not isinstance(
        key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
    ):
        raise InvalidConfiguration(f"signing key {kid!r} is of an unsupported type")
    return key


def public_jwk(key: PrivateKey, *, kid: str, algorithm: str) -> dict[str, Any]:
    """The public half of ``key`` as a JWK (RFC 7517) with ``kid``, ``alg`` and ``use``."""
    public = key.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, ed25519.Ed25519PublicKey):
        jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
    else:
        jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    return {**jwk, "kid": kid, "alg": algorithm, "use": "sig"}


def secret_kid(secret: bytes) -> str:
    """The key id of an HS256 secret: a digest prefix, so the kid reveals nothing of it."""
    return "hs256-" + hashlib.sha256(b"rolegate kid\0" + secret).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Signer:
    """The key new tokens are signed with."""

    kid: str
    algorithm: str
    key: Any  # a cryptography private key, or the HS256 secret


@dataclass(frozen=True, slots=True)
class Verifier:
    """A key tokens are verified with; ``verify_until`` (POSIX seconds) ends a retired key."""

    kid: str
    algorithm: str
    key: Any  # a cryptography public key, or the HS256 secret
    verify_until: float | None


@dataclass(frozen=True, slots=True)
class StoredKey:
    """What the ring needs of a stored key row."""

    kid: str
    algorithm: str
    public_jwk: dict[str, Any]
    private_key: str
    encrypted: bool
    retired: bool
    verify_until: datetime | None


def signing_key(stored: Sequence[StoredKey], algorithm: str) -> StoredKey | None:
    """The key that signs among ``stored`` (newest first): the newest unretired key of the
    configured ``algorithm``."""
    return next((k for k in stored if not k.retired and k.algorithm == algorithm), None)


class KeyRing:
    """The signing key and every verifying key, loaded from storage and swapped atomically."""

    def __init__(self, algorithm: str, *, secret: bytes | None, passphrase: bytes | None) -> None:
        self.algorithm = algorithm
        self._secret, self._passphrase = secret, passphrase
        self._lock = threading.Lock()
        self._signer: Signer | None = None
        self._sealed: StoredKey | None = None  # the signing key, unsealed when first needed
        self._verifiers: dict[str, Verifier] = {}
        if secret is not None:
            kid = secret_kid(secret)
            self._verifiers[kid] = Verifier(kid, SYMMETRIC, secret, None)
            if algorithm == SYMMETRIC:
                self._signer = Signer(kid, SYMMETRIC, secret)

    @property
    def signer(self) -> Signer | None:
        """The key to sign with, or None until one is stored (see :meth:`load`).

        Its private part is decrypted here, on first use: a process that only verifies
        never needs the key-encryption key.
        """
        sealed = self._sealed
        if self._signer is None and sealed is not None:
            private = unseal(
                sealed.private_key, self._passphrase, kid=sealed.kid, encrypted=sealed.encrypted
            )
            with self._lock:
                if self._sealed is sealed:
                    self._signer = Signer(sealed.kid, sealed.algorithm, private)
        return self._signer

    def verifier(self, kid: str) -> Verifier | None:
        """The verifying key with id ``kid``, if known."""
        return self._verifiers.get(kid)

    def load(self, stored: Sequence[StoredKey]) -> None:
        """Replace the stored keys (newest first): :func:`signing_key` signs; every key still
        in its verification window verifies."""
        verifiers: dict[str, Verifier] = {}
        sealed = signing_key(stored, self.algorithm)
        for row in stored:
            try:
                public = PyJWK(row.public_jwk, algorithm=row.algorithm).key
            except PyJWKError:
                raise InvalidConfiguration(f"signing key {row.kid!r} is damaged") from None
            until = row.verify_until.timestamp() if row.verify_until is not None else None
            verifiers[row.kid] = Verifier(row.kid, row.algorithm, public, until)
        if self._secret is not None:
            kid = secret_kid(self._secret)
            verifiers[kid] = Verifier(kid, SYMMETRIC, self._secret, None)
        with self._lock:
            self._verifiers = verifiers
            if self.algorithm != SYMMETRIC:
                if self._signer is None or sealed is None or sealed.kid != self._signer.kid:
                    self._signer = None  # unsealed again from ``sealed`` when next needed
                self._sealed = sealed

    @property
    def passphrase(self) -> bytes | None:
        """The key-encryption key new private keys are sealed with."""
        return self._passphrase
