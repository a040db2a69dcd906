"""Logins split into argon2 and everything else, and refresh-token rotation, on one database.

``rg.auth.login`` of distinct users (so no two logins share a throttle counter), each from its
own client address and User-Agent, with the default settings (argon2id m=19456 KiB, t=2, p=1;
ES256 access tokens). The hasher records how long its ``verify`` takes inside each login, so
"everything else" is each login minus its own argon2 time. Interleaved with the logins, and
timed alone: ``Argon2Hasher.verify`` of the same password and stored hash, and the device label
of a User-Agent not seen before (what ``login`` derives from the header). Then
``rg.auth.refresh`` of each login's session, ``refresh_rounds`` times in turn, each timed.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import partial
from time import perf_counter_ns
from typing import Final, NamedTuple

from sqlalchemy import select

from bench.measure import Spread, each
from bench.verify import expect
from rolegate import Rolegate, Settings
from rolegate.authn.devices import device_label
from rolegate.authn.passwords import Argon2Hasher
from rolegate.db.models import UserRecord
from rolegate.entities import TokenPair
from rolegate.types import UserId

PASSWORD: Final = "tr0ub4dor & three horses, stapled"  # long, not common, no username in it
#: Untimed logins first: statement caches, the signing key, the dummy hash, ua-parser's tables.
WARM_UP_LOGINS: Final = 3
#: Client numbers, never reused in a process: no User-Agent is parsed twice (ua-parser caches
#: answers by header), so the PostgreSQL logins parse as many new headers as the SQLite ones.
_CLIENTS: Final = itertools.count()


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


def login_settings() -> Settings:
    """Default settings (argon2id m=19456 KiB, t=2, p=1; ES256), the watcher thread off."""
    return Settings(watch_changes=False)


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
    """A user who logs in: the stored hash is what argon2 is timed on alone."""

    username: str
    id: UserId
    stored_hash: str
    client: int  # which address and User-Agent it logs in from


def measure_logins(url: str, name: str, *, logins: int, refresh_rounds: int) -> LoginRun:
    """Time ``logins`` logins of distinct users, argon2 alone beside each, then refreshes."""
    settings = login_settings()
    argon2 = Argon2Hasher(
        memory_kib=settings.argon2_memory_kib,
        time_cost=settings.argon2_time_cost,
        parallelism=settings.argon2_parallelism,
    )
    hasher = TimedHasher(argon2)
    with Rolegate(url, settings=settings, hasher=hasher) as rg:
        members = _members(rg, WARM_UP_LOGINS + logins)
        for member in members[:WARM_UP_LOGINS]:
            pair = _login(rg, member)
            rg.auth.refresh(pair.refresh_token)
        samples: dict[str, list[float]] = {part: [] for part in _LOGIN_PARTS}
        logged_in = [
            (member, _time_login(rg, hasher, argon2, member, samples))
            for member in members[WARM_UP_LOGINS:]
        ]
        refresh = _refreshes(rg, logged_in, rounds=refresh_rounds)
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
    return [_Member(u.username, u.id, stored[u.id] or "", next(_CLIENTS)) for u in created]


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


def _address(client: int) -> str:
    """A distinct client address per login: no two logins share the per-address counter."""
    return f"10.{client >> 16 & 255}.{client >> 8 & 255}.{client & 255}"


def _agent(client: int, *, variant: int) -> str:
    """A distinct browser User-Agent per login (``variant`` 1) and per lone parse (2)."""
    return (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/12{variant}.0.{client}.0 Safari/537.36"
    )
