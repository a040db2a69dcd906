"""Authentication: access tokens issued and verified per algorithm (here), logins split into
argon2 and the rest and refresh-token rotation (:mod:`bench.logins`), all through ``rg.auth``
and the code it calls.

One ``Rolegate`` per algorithm (``Settings(token_algorithm=...)``, SQLite), each with one
logged-in user whose token has been verified once, so the session is known to be alive and no
later verification reads the database (the run asserts that no statement is sent). Then, in
rounds in which the algorithms take turns (:func:`bench.measure.in_turns`):

- *issue*: ``issue_access_token`` with ``rg.keys.signer()``, ``tokens`` tokens for that session;
- *verify, first sight*: ``rg.auth.verify`` of each of those tokens, never seen before: header
  parse and checks, key lookup, PyJWT's signature and claim checks, the time claims, the
  ``Principal``, storing it in the token cache, and the in-memory session-liveness lookup;
- *verify, cached*: ``rg.auth.verify`` of the login's token, ``cached_calls`` times;
- *PyJWT*: a bare ``jwt.decode`` of that same token with the same key, audience and issuer.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final

import jwt
from pydantic import SecretStr
from sqlalchemy import event

from bench.loader import prepare
from bench.logins import PASSWORD, LoginRun, login_settings, measure_logins
from bench.measure import Spread, in_turns
from bench.verify import expect
from rolegate import Rolegate, Settings
from rolegate.authn.tokens import TokenRules, issue_access_token
from rolegate.db.engine import Database
from rolegate.entities import Principal, TokenPair

ALGORITHMS: Final = ("ES256", "EdDSA", "RS256", "HS256")


@dataclass(frozen=True, slots=True)
class AuthSpec:
    """How much the authentication section does; the defaults are ``make bench``'s."""

    tokens: int = 200  # distinct tokens issued, then verified, per algorithm and round
    cached_calls: int = 20_000  # verifications of one cached token per algorithm and round
    rounds: int = 7
    logins: int = 60  # timed logins per database, each by a different user
    refresh_rounds: int = 5  # refreshes of each login's session, in turns


@dataclass(frozen=True, slots=True)
class TokenRun:
    """One signing algorithm: ns per operation, one sample per round."""

    algorithm: str
    tokens: int
    cached_calls: int
    issue: Spread  # issue_access_token
    verify_first: Spread  # rg.auth.verify of a token not seen before
    verify_cached: Spread  # rg.auth.verify of one token seen before, again
    pyjwt_decode: Spread  # a bare jwt.decode of that same token


@dataclass(frozen=True, slots=True)
class AuthRun:
    """Everything the authentication section measured."""

    argon2: str  # the parameters logins hashed with
    tokens: tuple[TokenRun, ...]
    sqlite: LoginRun
    postgresql: LoginRun | None
    seconds: float


def measure_auth(
    spec: AuthSpec, *, postgres_url: str | None, say: Callable[[str], None]
) -> AuthRun:
    """Tokens on SQLite, then logins and refreshes on SQLite and PostgreSQL (which is wiped)."""
    started = time.perf_counter()
    logins = {"logins": spec.logins, "refresh_rounds": spec.refresh_rounds}
    with tempfile.TemporaryDirectory(prefix="rolegate-bench-auth-") as scratch:
        say("  access tokens: issue and verify, per algorithm")
        tokens = measure_tokens(scratch, spec)
        say("  logins and refreshes: SQLite")
        sqlite = measure_logins(f"sqlite:///{scratch}/logins.db", "SQLite", **logins)
    postgresql = None
    if postgres_url:
        say("  logins and refreshes: PostgreSQL")
        prepare(postgres_url)
        postgresql = measure_logins(postgres_url, "PostgreSQL", **logins)
    settings = login_settings()
    argon2 = (
        f"argon2id m={settings.argon2_memory_kib} KiB, t={settings.argon2_time_cost}, "
        f"p={settings.argon2_parallelism}"
    )
    return AuthRun(argon2, tokens, sqlite, postgresql, time.perf_counter() - started)


# -- tokens -------------------------------------------------------------------------------------


class _TokenSubject:
    """One algorithm's ``Rolegate``, with a live, verified session, and the steps to time."""

    def __init__(self, rg: Rolegate, algorithm: str, spec: AuthSpec) -> None:
        self.rg, self.algorithm, self.spec = rg, algorithm, spec
        pair = _first_login(rg)
        self.principal = rg.auth.verify(pair.access_token)  # reads whether the session lives
        signer = rg.keys.signer()
        expect(f"{algorithm} signer", signer.algorithm, algorithm)
        verifier = rg.keys.ring.verifier(signer.kid)
        assert verifier is not None, "the signing key verifies too"
        settings, now = rg.settings, datetime.now(UTC)
        self._issue = partial(
            issue_access_token,
            signer,
            TokenRules(
                issuer=settings.token_issuer,
                audience=settings.token_audience,
                algorithms=frozenset({algorithm}),
                leeway=settings.token_leeway.total_seconds(),
            ),
            user_id=self.principal.user_id,
            tenant_id=self.principal.tenant_id,
            session_id=self.principal.session_id,
            issued_at=now,
            expires_at=now + settings.access_token_ttl,
        )
        self._decode = partial(
            jwt.decode,
            pair.access_token,
            verifier.key,
            algorithms=[algorithm],
            audience=settings.token_audience,
            issuer=settings.token_issuer,
        )
        claims = self._decode()
        expect(f"{algorithm} jwt.decode sid", claims["sid"], str(self.principal.session_id))
        self.token = pair.access_token
        self.fresh: list[str] = []
        self.verified: list[Principal] = []

    def steps(self) -> dict[str, Callable[[], int]]:
        """The timed steps, in the order they must run (verify uses what issue made)."""
        return {
            f"{self.algorithm} issue": self.issue,
            f"{self.algorithm} verify_first": self.verify_first,
            f"{self.algorithm} verify_cached": self.verify_cached,
            f"{self.algorithm} pyjwt_decode": self.decode,
        }

    def issue(self) -> int:
        issue = self._issue
        self.fresh = [issue() for _ in range(self.spec.tokens)]
        return len(self.fresh)

    def verify_first(self) -> int:
        verify = self.rg.auth.verify
        self.verified.extend([verify(token) for token in self.fresh])
        return len(self.fresh)

    def verify_cached(self) -> int:
        verify, token = self.rg.auth.verify, self.token
        for _ in range(self.spec.cached_calls):
            verify(token)
        return self.spec.cached_calls

    def decode(self) -> int:
        decode = self._decode
        for _ in range(self.spec.tokens):
            decode()
        return self.spec.tokens

    def check(self) -> None:
        """Every first-sight verification named the session, each token once."""
        expected = (self.spec.rounds + 1) * self.spec.tokens
        sessions = {p.session_id for p in self.verified}
        expect(f"{self.algorithm} sessions verified", sessions, {self.principal.session_id})
        expect(
            f"{self.algorithm} distinct tokens", len({p.token_id for p in self.verified}), expected
        )


def measure_tokens(scratch: str, spec: AuthSpec) -> tuple[TokenRun, ...]:
    """Issue and verify per algorithm, the algorithms taking turns within each round."""
    with ExitStack() as stack:
        subjects = []
        for algorithm in ALGORITHMS:
            rg = stack.enter_context(
                Rolegate(f"sqlite:///{scratch}/{algorithm}.db", settings=_token_settings(algorithm))
            )
            subjects.append(_TokenSubject(rg, algorithm, spec))
            stack.enter_context(_no_queries(rg.db, f"{algorithm} token steps"))
        steps = {name: step for s in subjects for name, step in s.steps().items()}
        found = in_turns(steps, rounds=spec.rounds)
        for subject in subjects:
            subject.check()
    return tuple(
        TokenRun(
            s.algorithm,
            spec.tokens,
            spec.cached_calls,
            *(found[f"{s.algorithm} {step}"] for step in _TOKEN_STEPS),
        )
        for s in subjects
    )


_TOKEN_STEPS: Final = ("issue", "verify_first", "verify_cached", "pyjwt_decode")


def _token_settings(algorithm: str) -> Settings:
    # The watcher thread is off, as for the authorization hot path: nothing else runs.
    secret = SecretStr(secrets.token_urlsafe(32)) if algorithm == "HS256" else None
    return Settings(token_algorithm=algorithm, token_secret=secret, watch_changes=False)


@contextmanager
def _no_queries(db: Database, subject: str) -> Iterator[None]:
    """Fail unless the block sends no statement to ``db``: a figure meant to be in memory."""
    statements: list[object] = []

    def count(*_: Any) -> None:
        statements.append(None)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    expect(f"{subject}: statements sent to the database", len(statements), 0)


def _first_login(rg: Rolegate) -> TokenPair:
    """A member of the default tenant, logged in (which makes the first signing key)."""
    user = rg.users.create("token-user", password=PASSWORD)
    rg.memberships.add("default", user.id)
    return rg.auth.login(user.username, PASSWORD)
