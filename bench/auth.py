"""Authentication: access tokens issued and verified per algorithm, logins split into argon2
and the rest, and refresh-token rotation, all through ``rg.auth`` and the code it calls.

**Tokens** (SQLite): one ``Rolegate`` per algorithm (``Settings(token_algorithm=...)``), each
with one logged-in user whose token has been verified once, so the session is known to be
alive and no later verification reads the database (the run asserts no query is made). Then,
in rounds in which the algorithms take turns (:func:`bench.measure.in_turns`):

- *issue*: ``issue_access_token`` with ``rg.keys.signer()``, ``tokens`` tokens for that session;
- *verify, first sight*: ``rg.auth.verify`` of each of those tokens, never seen before: header
  parse and checks, key lookup, PyJWT's signature and claim checks, the time claims, the
  ``Principal``, storing it in the token cache, and the in-memory session-liveness lookup;
- *verify, cached*: ``rg.auth.verify`` of the login's token, ``cached_calls`` times;
- *PyJWT*: a bare ``jwt.decode`` of that same token with the same key, audience and issuer.

**Logins** (SQLite, and PostgreSQL when configured): ``rg.auth.login`` of distinct users (so
no two logins share a throttle counter), each with its own client address and User-Agent, with
the default argon2id parameters. The hasher records how long its ``verify`` takes inside each
login, so "everything else" is each login minus its own argon2 time. Interleaved with the
logins, and timed alone: ``Argon2Hasher.verify`` of the same password and stored hash, and the
device label of a User-Agent not seen before (what ``login`` derives from the header).
**Refresh**: ``rg.auth.refresh`` of each login's session, ``refresh_rounds`` times in turn.
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
from time import perf_counter_ns
from typing import Any, Final, NamedTuple

import jwt
from pydantic import SecretStr
from sqlalchemy import event, select

from bench.loader import prepare
from bench.measure import Spread, each, in_turns
from bench.verify import expect
from rolegate import Rolegate, Settings
from rolegate.authn.devices import device_label
from rolegate.authn.passwords import Argon2Hasher
from rolegate.authn.tokens import TokenRules, issue_access_token
from rolegate.db.engine import Database
from rolegate.db.models import UserRecord
from rolegate.entities import Principal, TokenPair
from rolegate.types import UserId

ALGORITHMS: Final = ("ES256", "EdDSA", "RS256", "HS256")
PASSWORD: Final = "tr0ub4dor & three horses, stapled"  # long, not common, no username in it
WARM_UP_LOGINS: Final = 3  # untimed: statement caches, the first signing key, ua-parser's tables


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
class LoginRun:
    """One database: ns per login and its parts, each login timed on its own."""

    name: str  # "SQLite" or "PostgreSQL"
    login: Spread  # rg.auth.login, end to end
    argon2_in_login: Spread  # the hasher's verify inside each of those logins
    rest: Spread  # each login minus its own argon2 time
    argon2_alone: Spread  # Argon2Hasher.verify of the same password and hash, alone
    device_label: Spread  # a User-Agent not seen before to a device label (ua-parser), alone
    refresh: Spread  # rg.auth.refresh: one rotation


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
    with tempfile.TemporaryDirectory(prefix="rolegate-bench-auth-") as scratch:
        say("  access tokens: issue and verify, per algorithm")
        tokens = measure_tokens(scratch, spec)
        say("  logins and refreshes: SQLite")
        sqlite = measure_logins(f"sqlite:///{scratch}/logins.db", "SQLite", spec)
    postgresql = None
    if postgres_url:
        say("  logins and refreshes: PostgreSQL")
        prepare(postgres_url)
        postgresql = measure_logins(postgres_url, "PostgreSQL", spec)
    settings = _login_settings()
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


# -- logins -------------------------------------------------------------------------------------


class TimedHasher:
    """The default argon2id hasher, recording how long each ``verify`` takes: the argon2 part
    of a login, measured inside that login (rolegate takes any ``PasswordHasher``)."""

    def __init__(self, hasher: Argon2Hasher) -> None:
        self._hasher = hasher
        self.verify_ns: list[int] = []

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password: str, encoded: str) -> bool:
        started = perf_counter_ns()
        try:
            return self._hasher.verify(password, encoded)
        finally:
            self.verify_ns.append(perf_counter_ns() - started)

    def needs_rehash(self, encoded: str) -> bool:
        return self._hasher.needs_rehash(encoded)


class _Member(NamedTuple):
    username: str
    id: UserId
    stored_hash: str
    client: int  # which address and User-Agent it logs in from


def measure_logins(url: str, name: str, spec: AuthSpec) -> LoginRun:
    """Time ``spec.logins`` logins of distinct users, argon2 alone beside each, then refreshes."""
    settings = _login_settings()
    argon2 = Argon2Hasher(
        memory_kib=settings.argon2_memory_kib,
        time_cost=settings.argon2_time_cost,
        parallelism=settings.argon2_parallelism,
    )
    hasher = TimedHasher(argon2)
    with Rolegate(url, settings=settings, hasher=hasher) as rg:
        members = _members(rg, WARM_UP_LOGINS + spec.logins)
        for member in members[:WARM_UP_LOGINS]:
            pair = _login(rg, member)
            rg.auth.refresh(pair.refresh_token)
        samples: dict[str, list[float]] = {part: [] for part in _LOGIN_PARTS}
        logged_in = [
            (member, _time_login(rg, hasher, argon2, member, samples))
            for member in members[WARM_UP_LOGINS:]
        ]
        refresh = _refreshes(rg, logged_in, rounds=spec.refresh_rounds)
    spreads = {part: Spread.of(durations) for part, durations in samples.items()}
    return LoginRun(
        name,
        login=spreads["login"],
        argon2_in_login=spreads["argon2_in_login"],
        rest=spreads["rest"],
        argon2_alone=spreads["argon2_alone"],
        device_label=spreads["device_label"],
        refresh=refresh,
    )


_LOGIN_PARTS: Final = ("login", "argon2_in_login", "rest", "argon2_alone", "device_label")


def _login_settings() -> Settings:
    """Default settings (argon2id m=19456 KiB, t=2, p=1; ES256), the watcher thread off."""
    return Settings(watch_changes=False)


def _members(rg: Rolegate, count: int) -> list[_Member]:
    """``count`` members of the default tenant, each with the password and a client of its own."""
    created = []
    for i in range(count):
        user = rg.users.create(f"login-{i:05d}", password=PASSWORD)
        rg.memberships.add("default", user.id)
        created.append(user)
    with rg.db.reading() as session:
        rows = session.execute(select(UserRecord.id, UserRecord.password_hash)).all()
    stored = {user_id: password_hash for user_id, password_hash in rows}
    return [_Member(u.username, u.id, stored[u.id] or "", i) for i, u in enumerate(created)]


def _login(rg: Rolegate, member: _Member) -> TokenPair:
    return rg.auth.login(
        member.username,
        PASSWORD,
        ip=_address(member.client),
        user_agent=_agent(member.client, variant=1),
    )


def _time_login(
    rg: Rolegate,
    hasher: TimedHasher,
    argon2: Argon2Hasher,
    member: _Member,
    samples: dict[str, list[float]],
) -> TokenPair:
    """One login, then argon2 and a device label alone: record all three and the split."""
    verified = len(hasher.verify_ns)
    started = perf_counter_ns()
    pair = _login(rg, member)
    took = perf_counter_ns() - started
    expect(
        f"argon2 verifications in {member.username}'s login", len(hasher.verify_ns), verified + 1
    )
    expect(f"{member.username}'s session", pair.session.user_id, member.id)
    inside = hasher.verify_ns[-1]
    started = perf_counter_ns()
    matched = argon2.verify(PASSWORD, member.stored_hash)
    alone = perf_counter_ns() - started
    expect(f"{member.username}'s password, alone", matched, True)
    started = perf_counter_ns()
    device_label(_agent(member.client, variant=2))  # a header not parsed before: a cache miss
    label = perf_counter_ns() - started
    for part, value in zip(_LOGIN_PARTS, (took, inside, took - inside, alone, label), strict=True):
        samples[part].append(value)
    return pair


def _refreshes(rg: Rolegate, logged_in: list[tuple[_Member, TokenPair]], *, rounds: int) -> Spread:
    """Rotate each session's refresh token in turn, ``rounds`` times; each rotation timed."""
    tokens = [pair.refresh_token for _, pair in logged_in]
    rotated: list[object] = []

    def rotate(index: int, member: _Member) -> None:
        client = member.client
        fresh = rg.auth.refresh(
            tokens[index], ip=_address(client), user_agent=_agent(client, variant=1)
        )
        tokens[index] = fresh.refresh_token
        rotated.append(fresh.session.id)

    steps = [
        partial(rotate, index, member)
        for _ in range(rounds)
        for index, (member, _) in enumerate(logged_in)
    ]
    spread = each(steps)
    expect("sessions refreshed", rotated, [pair.session.id for _, pair in logged_in] * rounds)
    return spread


def _address(i: int) -> str:
    """A distinct client address per login: no two logins share the per-address counter."""
    return f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"


def _agent(i: int, *, variant: int) -> str:
    """A distinct browser User-Agent per login (``variant`` 1) and per lone parse (2)."""
    return (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/12{variant}.0.{i}.0 Safari/537.36"
    )
