"""A process that has just started (a restart, or a new node) verifies every valid token, however
many requests arrive together while it loads its signing keys; unknown kids still cannot make it
read the database per request."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
from sqlalchemy import event

from rolegate import InvalidToken, Rolegate
from tests.factories import FAST_HASHER, PASSWORD, FakeClock, member_with_password

BURST = 32
ROUNDS = 5


def burst_of_verifies(rg: Rolegate, token: str) -> list[str]:
    """``BURST`` threads verify ``token`` at once on ``rg``; what each was told."""
    start = threading.Barrier(BURST)

    def verify() -> str:
        start.wait(timeout=30)
        try:
            rg.auth.verify(token)
        except InvalidToken as exc:
            return exc.reason
        return "ok"

    with ThreadPoolExecutor(BURST) as pool:
        return list(pool.map(lambda _: verify(), range(BURST)))


def test_a_burst_after_a_restart_verifies_every_valid_token(
    database_url: str, clock: FakeClock
) -> None:
    with Rolegate(database_url, hasher=FAST_HASHER, clock=clock) as first:
        member_with_password(first, "alice", tenant="acme")
        token = first.auth.login("alice", PASSWORD, tenant="acme").access_token
    for _ in range(ROUNDS):
        with Rolegate(database_url, hasher=FAST_HASHER, clock=clock) as restarted:
            answers = burst_of_verifies(restarted, token)
        assert answers == ["ok"] * BURST, sorted(set(answers))


def test_unknown_kids_reload_the_keys_at_most_once_a_second(rg: Rolegate) -> None:
    member_with_password(rg, "alice", tenant="acme")
    rg.auth.verify(rg.auth.login("alice", PASSWORD, tenant="acme").access_token)
    reads: list[str] = []

    def count(*args: object) -> None:
        if "FROM signing_keys" in str(args[2]):
            reads.append(str(args[2]))

    event.listen(rg.db.engine, "before_cursor_execute", count)
    for i in range(50):
        garbage = jwt.encode(
            {"sub": "x"}, "k" * 32, algorithm="HS256", headers={"kid": f"nokid{i}", "typ": "at+jwt"}
        )
        with pytest.raises(InvalidToken) as refused:
            rg.auth.verify(garbage)
        assert refused.value.reason == "unknown_kid"
    assert len(reads) <= 1
