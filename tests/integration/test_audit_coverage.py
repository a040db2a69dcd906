"""What the trail covers: after a random workload every change has exactly one event and the
chains verify; no password, token or key material appears in any event, anywhere."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

import pytest
from sqlalchemy import select, text

from rolegate import InvalidCredentials, RefreshTokenReused, Rolegate, RolegateError
from rolegate.db.models import SigningKeyRecord
from tests.factories import PASSWORD, AuditTail, audit_json, stored_state

Step = Callable[[Rolegate, random.Random], str]  # returns the action its success is audited as

ROLES = ("viewer", "editor", "auditor", "r1", "r2")
PERMISSIONS = ("documents:read", "documents:write", "p:one", "p:two")
USERS = ("alice", "u1", "u2")


def _grant(rg: Rolegate, rnd: random.Random) -> str:
    rg.roles.grant("acme", rnd.choice(ROLES), rnd.choice(PERMISSIONS))
    return "role.permission_granted"


def _revoke(rg: Rolegate, rnd: random.Random) -> str:
    rg.roles.revoke("acme", rnd.choice(ROLES), rnd.choice(PERMISSIONS))
    return "role.permission_revoked"


def _assign(rg: Rolegate, rnd: random.Random) -> str:
    rg.assignments.assign("acme", rnd.choice(USERS), rnd.choice(ROLES))
    return "role.assigned"


def _unassign(rg: Rolegate, rnd: random.Random) -> str:
    rg.assignments.unassign("acme", rnd.choice(USERS), rnd.choice(ROLES))
    return "role.unassigned"


def _inherit(rg: Rolegate, rnd: random.Random) -> str:
    rg.roles.inherit("acme", rnd.choice(ROLES), rnd.choice(ROLES))
    return "role.inherited"


def _uninherit(rg: Rolegate, rnd: random.Random) -> str:
    rg.roles.uninherit("acme", rnd.choice(ROLES), rnd.choice(ROLES))
    return "role.uninherited"


def _describe(rg: Rolegate, rnd: random.Random) -> str:
    rg.roles.update("acme", rnd.choice(ROLES), description=f"d{rnd.randrange(3)}")
    return "role.updated"


def _audit_flag(rg: Rolegate, rnd: random.Random) -> str:
    rg.permissions.update("acme", rnd.choice(PERMISSIONS[2:]), audited=rnd.random() < 0.5)
    return "permission.updated"


STEPS: tuple[Step, ...] = (
    _grant,
    _revoke,
    _assign,
    _unassign,
    _inherit,
    _uninherit,
    _describe,
    _audit_flag,
)


@pytest.mark.parametrize("seed", [1, 2])
def test_after_a_random_workload_every_change_has_exactly_one_event(
    policy: Rolegate, seed: int
) -> None:
    rg, rnd = policy, random.Random(seed)
    for name in ("p:one", "p:two"):
        rg.permissions.create("acme", name)
    for name in ("r1", "r2"):
        rg.roles.create("acme", name)
    for name in ("u1", "u2"):
        rg.users.create(name)
        rg.memberships.add("acme", name)
    tail = AuditTail(rg)
    expected: Counter[str] = Counter()
    for _ in range(120):
        step, before = rnd.choice(STEPS), stored_state(rg)
        try:
            action = step(rg, rnd)
        except RolegateError:
            continue  # refused (exists, missing, a cycle): must leave no event
        if stored_state(rg) != before:  # a repeated assignment, say, changes nothing
            expected[action] += 1
    recorded = Counter(e.action for e in tail.new_events())
    assert recorded == expected
    assert sum(expected.values()) > 40  # the workload did change things
    assert all(report.is_intact for report in rg.audit.verify())


def test_no_secret_ever_appears_in_any_event(policy: Rolegate) -> None:
    rg = policy
    rg.users.create("bob", password=PASSWORD)
    rg.memberships.add("acme", "bob")
    first = rg.auth.login("bob", PASSWORD, tenant="acme", ip="198.51.100.7")
    second = rg.auth.refresh(first.refresh_token)
    with pytest.raises(RefreshTokenReused):
        rg.auth.refresh(first.refresh_token)
    with pytest.raises(InvalidCredentials):
        rg.auth.login("bob", "wrong " + PASSWORD, tenant="acme")
    third = rg.auth.login("bob", PASSWORD, tenant="acme")
    rg.auth.change_password("bob", PASSWORD, "a brand new passphrase", tenant="acme")
    rg.users.set_password("alice", "an admin-set passphrase")
    rg.keys.rotate()
    rg.audit.seal()
    with rg.db.engine.connect() as connection:
        hashes = connection.execute(text("SELECT password_hash FROM users")).scalars().all()
    with rg.db.reading() as session:
        private_keys = session.scalars(select(SigningKeyRecord.private_key)).all()
    secrets = [PASSWORD, "wrong " + PASSWORD, "a brand new passphrase", "an admin-set passphrase"]
    for pair in (first, second, third):
        secrets += [pair.access_token, pair.refresh_token]
    secrets += [h for h in hashes if h] + [_pem_body(key) for key in private_keys]
    trail = audit_json(rg)
    assert "auth.login_succeeded" in trail and "session.revoked" in trail  # it was recorded
    for secret in secrets:
        assert secret not in trail


def _pem_body(pem: str) -> str:
    """A line from the middle of a PEM block: key material, whatever the armour says."""
    lines = [line for line in pem.splitlines() if line and not line.startswith("-----")]
    return lines[len(lines) // 2]
