"""``rg.auth``'s access-token verification: the hot path every authenticated request takes.

Access tokens are verified once by signature and then served from memory until they expire;
whether their session still lives is remembered too, and forgotten by the change that ends it
in whichever process commits it (:meth:`TokenService.apply`, fed by the change watcher).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import select

from rolegate.authn.sessions import SessionLiveness
from rolegate.authn.tokens import TokenRules, decode_access_token
from rolegate.authz.changes import Change, Scope
from rolegate.db.models import SessionRecord
from rolegate.entities import Principal
from rolegate.errors import InvalidToken
from rolegate.services._context import ServiceContext
from rolegate.services.keys import KeyService


class TokenService:
    """Verifies access tokens from memory, and forgets what committed changes make untrue."""

    def __init__(
        self,
        ctx: ServiceContext,
        keys: KeyService,
        rules: TokenRules,
        *,
        timer: Callable[[], float],
        cache_size: int,
    ) -> None:
        self._ctx, self._keys, self._rules = ctx, keys, rules
        self._timer, self._cache_size = timer, cache_size
        self._verified: dict[str, tuple[Principal, float]] = {}
        self._alive = SessionLiveness(cache_size)

    def verify(self, token: str) -> Principal:
        """The principal of a valid access token whose session still lives; else
        :class:`InvalidToken`. A token seen before costs two dictionary lookups."""
        now = self._timer()
        # Not a string: decoding refuses it, and it may be unhashable (a list from JSON).
        cached = self._verified.get(token) if isinstance(token, str) else None
        if cached is None:
            cached = decode_access_token(
                token,
                self._keys.current(),
                self._rules,
                now=now,
                reload=self._keys.reload_for_unknown_kid,
            )
            if len(self._verified) >= self._cache_size:
                self._verified.pop(next(iter(self._verified)), None)
            self._verified[token] = cached
        principal, good_until = cached
        if now >= good_until:
            self._verified.pop(token, None)
            raise InvalidToken(reason="expired")
        alive = self._alive.get(principal.session_id)
        if alive is None:
            alive = self._load_alive(principal.session_id)
        if not alive:
            raise InvalidToken(reason="session_ended")
        return principal

    def _load_alive(self, session_id: UUID) -> bool:
        generation = self._alive.generation
        with self._ctx.db.reading() as session:
            revoked = session.execute(
                select(SessionRecord.revoked_at).where(SessionRecord.id == session_id)
            ).first()
        alive = revoked is not None and revoked[0] is None
        self._alive.remember(session_id, alive, generation)
        return alive

    def jwks(self) -> dict[str, Any]:
        """The public signing keys as a JWK Set, for ``/.well-known/jwks.json``."""
        return self._keys.jwks()

    def apply(self, changes: Sequence[Change]) -> None:
        """Forget sessions that ended and keys that changed (any process's commits)."""
        ended = [c.subject_id for c in changes if c.scope is Scope.SESSION and c.subject_id]
        if ended:
            self._alive.forget(ended)
        if any(c.scope is Scope.KEYS for c in changes):
            self._keys.mark_stale()
            # A retired key's window now ends: remembered answers must not outlive it.
            self._verified = {}
