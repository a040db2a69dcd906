"""Audit seals and prune anchors are signed by an ``audit_seal`` key of their own, on real
databases: never a key in the JWKS, never one that verifies a token, rotated on its own and
encrypted like the others; seals made before, by a token key, still verify."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select, update

from rolegate import InvalidToken, Rolegate, Settings
from rolegate.db.models import (
    ACCESS_TOKEN_KEY,
    AUDIT_SEAL_KEY,
    AuditAnchorRecord,
    AuditChainRecord,
    SigningKeyRecord,
)
from rolegate.entities import ChainReport
from tests.factories import FAST_HASHER, PASSWORD, FakeClock, member_with_password


def key_row(rg: Rolegate, kid: str) -> SigningKeyRecord:
    """The stored row of key ``kid``, read with SQLAlchemy."""
    with rg.db.reading() as session:
        row = session.get(SigningKeyRecord, kid)
        assert row is not None
        session.expunge(row)
        return row


def acme_report(rg: Rolegate) -> ChainReport:
    [report] = rg.audit.verify(tenant="acme")
    return report


@pytest.fixture
def alice(rg: Rolegate) -> Rolegate:
    """Tenant acme, with alice a member who can log in (so its chain has events)."""
    member_with_password(rg, "alice", tenant="acme")
    return rg


def test_a_seal_is_signed_by_a_key_that_is_not_in_the_jwks(alice: Rolegate) -> None:
    pair = alice.auth.login("alice", PASSWORD, tenant="acme")  # a token key exists
    [seal] = alice.audit.seal(tenant="acme")
    published = {key["kid"] for key in alice.auth.jwks()["keys"]}
    token_kid = jwt.get_unverified_header(pair.access_token)["kid"]
    assert token_kid in published
    assert seal.kid not in published and seal.kid != token_kid
    assert key_row(alice, seal.kid).purpose == AUDIT_SEAL_KEY
    listed = {key.kid: key for key in alice.keys.list()}
    assert (listed[seal.kid].purpose, listed[seal.kid].is_signing) == (AUDIT_SEAL_KEY, True)
    assert (listed[token_kid].purpose, listed[token_kid].is_signing) == (ACCESS_TOKEN_KEY, True)
    alice.roles.create("acme", "after-the-seal")
    [again] = alice.audit.seal(tenant="acme")
    assert again.kid == seal.kid  # made on first need, then kept
    assert acme_report(alice).is_intact


def test_a_token_signed_by_the_seal_key_under_its_kid_is_refused(alice: Rolegate) -> None:
    pair = alice.auth.login("alice", PASSWORD, tenant="acme")
    [seal] = alice.audit.seal(tenant="acme")
    row = key_row(alice, seal.kid)
    private = serialization.load_pem_private_key(row.private_key.encode(), password=None)
    claims: dict[str, Any] = jwt.decode(pair.access_token, options={"verify_signature": False})
    headers = {"kid": seal.kid, "typ": "at+jwt"}
    forged = jwt.encode(claims, private, algorithm=row.algorithm, headers=headers)
    public = jwt.PyJWK(row.public_jwk, algorithm=row.algorithm).key
    # A good signature by a key rolegate stores: only the key's purpose refuses it.
    times = {"verify_exp": False, "verify_nbf": False, "verify_iat": False}  # the fake clock's
    jwt.decode(forged, public, algorithms=[row.algorithm], audience=claims["aud"], options=times)
    with pytest.raises(InvalidToken) as refused:
        alice.auth.verify(forged)
    assert refused.value.reason == "unknown_kid"
    assert alice.auth.verify(pair.access_token).user_id == UUID(claims["sub"])


def test_prune_anchors_are_signed_by_the_seal_key_too(alice: Rolegate, clock: FakeClock) -> None:
    alice.auth.login("alice", PASSWORD, tenant="acme")
    clock.advance(timedelta(days=400))
    alice.roles.create("acme", "recent")
    [anchor] = alice.audit.prune(before=clock.now - timedelta(days=1), tenant="acme")
    assert key_row(alice, anchor.kid).purpose == AUDIT_SEAL_KEY
    assert anchor.kid not in {key["kid"] for key in alice.auth.jwks()["keys"]}
    assert acme_report(alice).is_intact


def sign_as_before(rg: Rolegate, kid_of_token_key: str) -> None:
    """Re-sign every stored anchor with the token key ``kid_of_token_key``, the way seals were
    made before seal keys existed: a JWS of the anchor's fields under that key's kid."""
    row = key_row(rg, kid_of_token_key)
    private = serialization.load_pem_private_key(row.private_key.encode(), password=None)
    with rg.db.engine.begin() as connection:
        for anchor in connection.execute(select(AuditAnchorRecord)).all():
            claims = {
                "chain": str(anchor.chain_id),
                "kind": anchor.kind,
                "seq": anchor.seq,
                "hash": anchor.hash,
                "iat": anchor.created_at,
            }
            signature = jwt.encode(
                claims, private, algorithm=row.algorithm, headers={"kid": row.kid}
            )
            connection.execute(
                update(AuditAnchorRecord)
                .where(AuditAnchorRecord.chain_id == anchor.chain_id)
                .where(AuditAnchorRecord.seq == anchor.seq)
                .where(AuditAnchorRecord.kind == anchor.kind)
                .values(kid=row.kid, signature=signature)
            )


def test_seals_made_by_a_token_key_before_still_verify(alice: Rolegate, clock: FakeClock) -> None:
    pair = alice.auth.login("alice", PASSWORD, tenant="acme")
    old_kid = jwt.get_unverified_header(pair.access_token)["kid"]
    alice.audit.seal(tenant="acme")
    sign_as_before(alice, old_kid)
    assert acme_report(alice).is_intact and acme_report(alice).seals == 1
    # The token key retires and stops verifying tokens: its seals still verify, from the row.
    alice.keys.rotate()
    clock.advance(alice.settings.access_token_ttl + alice.settings.token_leeway * 2)
    assert old_kid not in {key["kid"] for key in alice.auth.jwks()["keys"]}
    with pytest.raises(InvalidToken):
        alice.auth.verify(pair.access_token)
    assert acme_report(alice).is_intact
    # ... and still catch a rewritten head.
    with alice.db.engine.begin() as connection:
        connection.execute(update(AuditChainRecord).values(seq=AuditChainRecord.seq - 1))
    assert not acme_report(alice).is_intact


def test_the_seal_key_rotates_on_its_own_and_old_seals_still_verify(alice: Rolegate) -> None:
    pair = alice.auth.login("alice", PASSWORD, tenant="acme")
    token_kid = jwt.get_unverified_header(pair.access_token)["kid"]
    [first] = alice.audit.seal(tenant="acme")
    new = alice.keys.rotate(purpose=AUDIT_SEAL_KEY)
    assert (new.purpose, new.is_signing) == (AUDIT_SEAL_KEY, True)
    alice.roles.create("acme", "after-the-rotation")
    [second] = alice.audit.seal(tenant="acme")
    assert second.kid == new.kid != first.kid
    listed = {key.kid: key for key in alice.keys.list()}
    assert listed[first.kid].retired_at is not None and not listed[first.kid].is_signing
    assert listed[first.kid].verify_until is None  # seal keys never stop verifying their seals
    assert listed[token_kid].is_signing and listed[token_kid].retired_at is None  # untouched
    assert alice.auth.verify(pair.access_token)
    assert acme_report(alice).is_intact and acme_report(alice).seals == 2


def test_the_seal_key_is_encrypted_with_the_key_encryption_key(
    database_url: str, clock: FakeClock
) -> None:
    settings = Settings(watch_changes=False, key_encryption_key="kept in a vault, not here")
    with Rolegate(database_url, hasher=FAST_HASHER, clock=clock, settings=settings) as rg:
        member_with_password(rg, "alice", tenant="acme")
        [seal] = rg.audit.seal(tenant="acme")
        row = key_row(rg, seal.kid)
        assert row.encrypted and row.private_key.startswith("-----BEGIN ENCRYPTED PRIVATE KEY")
        assert acme_report(rg).is_intact


def test_with_hs256_tokens_the_seal_key_is_still_a_public_key_pair(
    database_url: str, clock: FakeClock
) -> None:
    settings = Settings(watch_changes=False, token_algorithm="HS256", token_secret="s" * 40)
    with Rolegate(database_url, hasher=FAST_HASHER, clock=clock, settings=settings) as rg:
        member_with_password(rg, "alice", tenant="acme")
        [seal] = rg.audit.seal(tenant="acme")
        assert key_row(rg, seal.kid).algorithm == "ES256"
        assert rg.auth.jwks() == {"keys": []}  # a shared secret, and no seal key, published
        assert acme_report(rg).is_intact
