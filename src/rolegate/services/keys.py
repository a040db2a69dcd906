"""Signing keys: the first one made at start-up (or on demand), rotation, listing and the
public JWKS.

Each key has one purpose. ``access`` keys sign and verify access tokens and are published in the
JWKS; the ``audit_seal`` key signs audit seals and prune anchors only, is never published, and
never verifies a token: whoever can get a seal signed cannot mint a token with it, and a leaked
token key cannot forge a seal made after 0006.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from rolegate.authn.keys import (
    ASYMMETRIC,
    KeyRing,
    Signer,
    StoredKey,
    generate,
    new_kid,
    public_jwk,
    seal,
    signing_key,
    unseal,
)
from rolegate.authz.changes import Change
from rolegate.db.models import ACCESS_TOKEN_KEY, AUDIT_SEAL_KEY, SigningKeyRecord
from rolegate.entities import SigningKey
from rolegate.errors import InvalidConfiguration, InvalidInput
from rolegate.services._context import ServiceContext

#: An unknown ``kid`` reloads the keys at most this often, so forged kids cannot flood the
#: database with queries.
RELOAD_INTERVAL: Final = 1.0
#: The audit seal key's algorithm when tokens are HS256: seals need a public key to verify with.
SEAL_ALGORITHM: Final = "ES256"
PURPOSES: Final = (ACCESS_TOKEN_KEY, AUDIT_SEAL_KEY)


class KeyService:
    """Owns the :class:`KeyRing`: loads it from the database and rotates the stored keys."""

    def __init__(
        self, ctx: ServiceContext, ring: KeyRing, *, token_ttl: timedelta, leeway: timedelta
    ) -> None:
        self._ctx, self.ring = ctx, ring
        # A retired key verifies until every token it signed has expired, skew included.
        self._grace = token_ttl + leeway
        # The ring is stale while ``_loaded`` lags ``_wanted`` (which mark_stale bumps): a load
        # clears only the staleness it began with, never a change marked while it read.
        self._wanted, self._loaded = 1, 0
        self._loads = 0  # loads published so far, for callers that waited on one
        self._last_reload = -RELOAD_INTERVAL
        self._lock = threading.Lock()

    @property
    def _stale(self) -> bool:
        return self._loaded != self._wanted

    def signer(self) -> Signer:
        """The key to sign with; the first use makes one if the database has none."""
        if self.ring.signer is None:
            self.reload()
        elif self._stale:
            self._reload_if_stale()
        signer = self.ring.signer
        if signer is None:
            self.ensure_signing_key()
            signer = self.ring.signer
        assert signer is not None, "ensure_signing_key() stores or loads a signing key"
        return signer

    def ensure_signing_key(self) -> SigningKey | None:
        """Store a token key of the configured algorithm unless one signs already, then load
        the ring: the key made, or None when there was one (or tokens are HS256, signed with
        ``token_secret``). Servers call it at start-up, so the JWKS publishes a key before the
        first login. Nodes starting together against one database make one key between them:
        the check runs under the key lock (see :func:`_lock_keys`), after the other's commit."""
        made = None
        if self.ring.algorithm in ASYMMETRIC:
            made = self._store_key(ACCESS_TOKEN_KEY, reason="initial", actor=None, if_missing=True)
        self.reload()
        return made

    def reload(self) -> None:
        """Read the keys still in their verification window from the database."""
        with self._lock:
            self._load()

    def current(self) -> KeyRing:
        """The ring, reloaded first if another process changed the keys since (or nothing was
        loaded yet); callers arriving during that load wait for it rather than see the ring
        from before it."""
        if self._stale:
            self._reload_if_stale()
        return self.ring

    def reload_for_unknown_kid(self) -> None:
        """Reload, unless that was done less than :data:`RELOAD_INTERVAL` ago: forged kids
        cannot cost a database read per request. A load under way when the kid was not found
        is waited for and counts as this reload, so a valid token is never refused for
        arriving while the keys were being read (a restart, a new node)."""
        seen = self._loads
        with self._lock:
            if self._loads != seen:
                return  # a load published while we waited: the caller looks the kid up again
            if time.monotonic() - self._last_reload >= RELOAD_INTERVAL:
                self._load()

    def mark_stale(self) -> None:
        """Another process changed the keys: reload before the next signature."""
        self._wanted += 1

    def _reload_if_stale(self) -> None:
        with self._lock:
            if self._stale:  # else another caller loaded while this one waited
                self._load()

    def _load(self) -> None:
        """Read the keys and publish them in one swap, then (only then) call the ring fresh;
        the caller holds ``_lock``."""
        wanted, started = self._wanted, time.monotonic()
        now = self._ctx.now()
        with self._ctx.db.reading() as session:
            stored = [_stored(row) for row in _key_rows(session, verifying_at=now)]
        self.ring.load(stored)
        self._loaded, self._last_reload = wanted, started
        self._loads += 1

    def seal_signer(self) -> Signer:
        """The key audit seals and prune anchors are signed with, never one that verifies
        tokens; the first use makes one. Read from the database each time: seals are rare."""
        stored = self._newest_seal_key()
        if stored is None:
            self._store_key(AUDIT_SEAL_KEY, reason="initial", actor=None, if_missing=True)
            stored = self._newest_seal_key()
        assert stored is not None, "rotate() stores an audit seal key"
        passphrase = self.ring.passphrase
        private = unseal(stored.private_key, passphrase, kid=stored.kid, encrypted=stored.encrypted)
        return Signer(stored.kid, stored.algorithm, private)

    def _newest_seal_key(self) -> StoredKey | None:
        with self._ctx.db.reading() as session:
            rows = _key_rows(session, verifying_at=None, purpose=AUDIT_SEAL_KEY)
            return next((_stored(row) for row in rows if row.retired_at is None), None)

    def rotate(
        self, *, reason: str = "rotation", actor: str | None = None, purpose: str = ACCESS_TOKEN_KEY
    ) -> SigningKey:
        """Add a new key for ``purpose`` and retire the previous one. A retired token key
        verifies until its tokens have expired; a retired seal key keeps verifying the seals it
        made, for as long as they are stored."""
        if purpose not in PURPOSES:
            raise InvalidInput(f"a key's purpose is one of {', '.join(PURPOSES)}")
        made = self._store_key(purpose, reason=reason, actor=actor, if_missing=False)
        assert made is not None, "a rotation always stores a key"
        return made

    def _store_key(
        self, purpose: str, *, reason: str, actor: str | None, if_missing: bool
    ) -> SigningKey | None:
        """Store a new key for ``purpose``, retiring the previous one; with ``if_missing``,
        only when no key of ``purpose`` (and, for tokens, of the configured algorithm) signs."""
        algorithm = self.ring.algorithm
        if purpose == AUDIT_SEAL_KEY and algorithm not in ASYMMETRIC:
            algorithm = SEAL_ALGORITHM
        if algorithm not in ASYMMETRIC:
            raise InvalidConfiguration(
                "HS256 signs with token_secret: rotate it by changing the setting"
            )
        now = self._ctx.now()
        private = generate(algorithm)  # before the lock: an RSA key takes a while to make
        kid = new_kid(now)
        row = SigningKeyRecord(
            kid=kid,
            algorithm=algorithm,
            purpose=purpose,
            public_jwk=public_jwk(private, kid=kid, algorithm=algorithm),
            private_key=seal(private, self.ring.passphrase),
            encrypted=self.ring.passphrase is not None,
            created_at=now,
        )
        until = now + self._grace if purpose == ACCESS_TOKEN_KEY else None
        with self._ctx.transaction() as tx:
            _lock_keys(tx, purpose)
            if if_missing and _has_signing_key(tx, purpose, algorithm):
                return None  # another process made it meanwhile
            retired = tx.scalars(
                update(SigningKeyRecord)
                .where(SigningKeyRecord.retired_at.is_(None), SigningKeyRecord.purpose == purpose)
                .values(retired_at=now, verify_until=until)
                .returning(SigningKeyRecord.kid)
                .execution_options(synchronize_session=False)
            ).all()
            tx.add(row)
            tx.flush()
            self._ctx.audit(
                tx,
                "key.rotated",
                "signing_key",
                kid,
                tenant_id=None,
                actor=actor,
                details={
                    "algorithm": algorithm,
                    "purpose": purpose,
                    "retired": sorted(retired),
                    "reason": reason,
                },
            )
            self._ctx.bump(tx, Change.keys())
        if purpose == ACCESS_TOKEN_KEY:
            self.reload()
        return _key_value(row, signing=True)

    def list(self, *, include_expired: bool = False) -> list[SigningKey]:
        """Stored keys of every purpose, newest first; expired ones (no longer verifying) only
        when asked. Seal keys never expire: they verify the seals they made."""
        now = self._ctx.now()
        with self._ctx.db.reading() as session:
            rows = _key_rows(session, verifying_at=None if include_expired else now, purpose=None)
            # As the ring chooses, from the database: a fresh process has loaded no ring yet.
            access = [_stored(row) for row in rows if row.purpose == ACCESS_TOKEN_KEY]
            token_signer = signing_key(access, self.ring.algorithm)
            seal_signer = next(
                (r for r in rows if r.purpose == AUDIT_SEAL_KEY and r.retired_at is None), None
            )
            signing = {key.kid for key in (token_signer, seal_signer) if key is not None}
            return [_key_value(row, signing=row.kid in signing) for row in rows]

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set (RFC 7517 §5): public parts of every token key that still
        verifies; never an audit seal key. Never empty unless tokens are HS256: a database
        without a token key gets one here (an app built without the server's start-up)."""
        published = _token_jwks(self.list())
        if not published and self.ring.algorithm in ASYMMETRIC:
            self.ensure_signing_key()
            published = _token_jwks(self.list())
        return {"keys": published}


def _token_jwks(keys: Sequence[SigningKey]) -> list[dict[str, Any]]:
    return [key.public_jwk for key in keys if key.purpose == ACCESS_TOKEN_KEY]


def _lock_keys(tx: Session, purpose: str) -> None:
    """On PostgreSQL, hold the key lock of ``purpose`` until commit, so that two processes
    storing a key (nodes starting together, two first logins) take turns, the second seeing
    the first's key: under READ COMMITTED its next statement reads the first's commit.
    (SQLite runs one writer at a time already: BEGIN IMMEDIATE.)"""
    if tx.get_bind().dialect.name == "postgresql":
        tx.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"rolegate.keys:{purpose}"))))


def _has_signing_key(tx: Session, purpose: str, algorithm: str) -> bool:
    """Whether an unretired key of ``purpose`` signs: for tokens, one of ``algorithm`` (the
    ring signs with no other, see :func:`signing_key`); any seal key signs seals."""
    query = select(SigningKeyRecord.kid).where(
        SigningKeyRecord.purpose == purpose, SigningKeyRecord.retired_at.is_(None)
    )
    if purpose == ACCESS_TOKEN_KEY:
        query = query.where(SigningKeyRecord.algorithm == algorithm)
    return tx.scalar(query.limit(1)) is not None


def _key_rows(
    session: Session, *, verifying_at: datetime | None, purpose: str | None = ACCESS_TOKEN_KEY
) -> list[SigningKeyRecord]:
    """Stored keys of ``purpose`` (token keys unless told; every key with None), newest first;
    with ``verifying_at``, only those still verifying then. The ring loads token keys only, so
    a token whose ``kid`` names a seal key is refused as an unknown key."""
    query = select(SigningKeyRecord).order_by(
        SigningKeyRecord.created_at.desc(), SigningKeyRecord.kid
    )
    if purpose is not None:
        query = query.where(SigningKeyRecord.purpose == purpose)
    if verifying_at is not None:
        query = query.where(
            or_(
                SigningKeyRecord.verify_until.is_(None),
                SigningKeyRecord.verify_until > verifying_at,
            )
        )
    return list(session.scalars(query))


def _stored(row: SigningKeyRecord) -> StoredKey:
    return StoredKey(
        row.kid,
        row.algorithm,
        row.public_jwk,
        row.private_key,
        row.encrypted,
        row.retired_at is not None,
        row.verify_until,
    )


def _key_value(row: SigningKeyRecord, *, signing: bool) -> SigningKey:
    return SigningKey(
        kid=row.kid,
        algorithm=row.algorithm,
        created_at=row.created_at,
        retired_at=row.retired_at,
        verify_until=row.verify_until,
        purpose=row.purpose,
        is_signing=signing and row.retired_at is None,
        public_jwk=dict(row.public_jwk),
    )
