"""Access tokens on real databases: forged and malformed tokens are refused, expiry and key
rotation hold at their boundaries, every signing algorithm works, and private keys are stored
encrypted when a key-encryption key is configured.

Forgeries are assembled by hand (base64url JSON and a signature), so a test can say exactly
what an attacker controls: RFC 8725 §2 lists the attacks, and each has a case here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import get_default_algorithms
from pydantic import ValidationError
from sqlalchemy import select

from rolegate import InvalidConfiguration, InvalidToken, Rolegate, Settings, TokenPair
from rolegate.authn.tokens import MAX_TOKEN_LENGTH
from rolegate.db.models import SessionRecord, SigningKeyRecord
from tests.factories import (
    FAST_HASHER,
    PASSWORD,
    FakeClock,
    count_rows,
    member_with_password,
    wait_until,
)

HS256_SECRET = "Vq3j0m5kXr7tA1cYz9WfL2pN8sHdE4bU"  # 32 random ASCII characters
#: JWK members that would disclose a private or symmetric key (RFC 7518 §6).
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
ONE_SECOND = timedelta(seconds=1)


# --- building tokens by hand --------------------------------------------------------------------


def b64(data: bytes) -> str:
    """base64url without padding, as JWS uses it (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def part(value: Any) -> str:
    """One encoded JWS part: compact JSON, base64url."""
    return b64(json.dumps(value, separators=(",", ":")).encode())


def signed(header: dict[str, Any], claims: dict[str, Any], key: Any, algorithm: str) -> str:
    """A compact JWS of exactly ``header`` and ``claims``, signed by ``key`` with ``algorithm``."""
    signing_input = f"{part(header)}.{part(claims)}"
    signature = get_default_algorithms()[algorithm].sign(signing_input.encode(), key)
    return f"{signing_input}.{b64(signature)}"


def timestamp(moment: datetime) -> int:
    return int(moment.timestamp())


@dataclass(frozen=True)
class Genuine:
    """A token rolegate issued, taken apart, with the key that signed it: what forgeries start
    from. :meth:`resigned` makes a token rolegate could have issued, but for the changes."""

    token: str
    header: dict[str, Any]
    claims: dict[str, Any]
    key: ec.EllipticCurvePrivateKey  # the real signing key (ES256, the default)

    @classmethod
    def of(cls, rg: Rolegate, pair: TokenPair) -> Genuine:
        token = pair.access_token
        claims = jwt.decode(token, options={"verify_signature": False})
        return cls(token, jwt.get_unverified_header(token), claims, rg.keys.signer().key)

    @property
    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def resigned(
        self,
        header: dict[str, Any] | None = None,
        claims: dict[str, Any] | None = None,
        *,
        drop: tuple[str, ...] = (),
        key: ec.EllipticCurvePrivateKey | None = None,
    ) -> str:
        """The token with header and claim changes (a header member set to None is left out;
        ``drop`` removes claims), signed by the real key or ``key``; a fresh ``jti`` each
        time, so no earlier answer is reused."""
        new_claims = {**self.claims, "jti": uuid.uuid4().hex, **(claims or {})}
        for name in drop:
            new_claims.pop(name)
        changed = {**self.header, **(header or {})}
        new_header = {name: value for name, value in changed.items() if value is not None}
        return signed(new_header, new_claims, key or self.key, "ES256")


def attacker_key() -> ec.EllipticCurvePrivateKey:
    """A P-256 key of the attacker's own: right curve and algorithm, wrong owner."""
    return ec.generate_private_key(ec.SECP256R1())


def public_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(get_default_algorithms()["ES256"].to_jwk(key.public_key()))
    return jwk


@pytest.fixture
def pair(rg: Rolegate) -> TokenPair:
    """alice, a member of acme, logged in to acme on ``rg`` (ES256, the default)."""
    member_with_password(rg)
    return rg.auth.login("alice", PASSWORD, tenant="acme")


@pytest.fixture
def genuine(rg: Rolegate, pair: TokenPair) -> Genuine:
    """:func:`pair`'s access token, taken apart."""
    return Genuine.of(rg, pair)


@contextmanager
def configured(database_url: str, clock: FakeClock, **settings: Any) -> Iterator[Rolegate]:
    """Another Rolegate on ``database_url`` with these settings (as another deployment or
    process would run it); no change watcher, so it reads only what a test makes it read."""
    options = Settings(watch_changes=False, **settings)
    with Rolegate(database_url, hasher=FAST_HASHER, clock=clock, settings=options) as instance:
        yield instance


# --- the genuine article -------------------------------------------------------------------------


def test_a_good_token_verifies_to_its_user_tenant_and_session(
    rg: Rolegate, pair: TokenPair, genuine: Genuine
) -> None:
    principal = rg.auth.verify(pair.access_token)
    assert principal.user_id == rg.users.get("alice").id == pair.session.user_id
    assert principal.tenant_id == rg.tenants.get("acme").id == pair.session.tenant_id
    assert principal.session_id == pair.session.id
    assert principal.expires_at == pair.access_expires_at
    assert principal.token_id == genuine.claims["jti"]
    assert genuine.header == {"alg": "ES256", "typ": "at+jwt", "kid": rg.keys.signer().kid}


def test_a_token_resigned_unchanged_verifies(rg: Rolegate, genuine: Genuine) -> None:
    """The forging helpers make valid tokens when nothing is forged: each refusal below is
    for the one thing its case changes."""
    principal = rg.auth.verify(genuine.resigned())
    assert principal.user_id == uuid.UUID(genuine.claims["sub"])


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt"])
def test_typ_is_compared_case_blind_with_or_without_its_media_type_prefix(
    rg: Rolegate, genuine: Genuine, typ: str
) -> None:
    rg.auth.verify(genuine.resigned({"typ": typ}))  # RFC 9068 §4


def test_a_second_verify_is_answered_from_memory_even_after_a_rotation(
    rg: Rolegate, pair: TokenPair
) -> None:
    first = rg.auth.verify(pair.access_token)
    rg.keys.rotate()
    assert rg.auth.verify(pair.access_token) == first


# --- forgeries and malformed tokens ---------------------------------------------------------------


def unsigned(genuine: Genuine) -> str:
    """alg "none": the real claims and kid, no signature (RFC 8725 §2.1)."""
    return f"{part({**genuine.header, 'alg': 'none'})}.{part(genuine.claims)}."


def hmac_with_public_key(genuine: Genuine) -> str:
    """HS256 with the public key's PEM as the HMAC secret: the classic algorithm confusion
    (PyJWT refuses to make it, so it is made here)."""
    signing_input = f"{part({**genuine.header, 'alg': 'HS256'})}.{part(genuine.claims)}"
    mac = hmac.new(genuine.public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def tampered(genuine: Genuine) -> str:
    """Another user's id in the payload, the original signature kept."""
    header, _, signature = genuine.token.split(".")
    return f"{header}.{part({**genuine.claims, 'sub': str(uuid.uuid4())})}.{signature}"


def by_attacker(**header: Any) -> Callable[[Genuine], str]:
    """The real claims signed by the attacker's key, with these header changes."""

    def forge(genuine: Genuine) -> str:
        key = attacker_key()
        changes = {
            name: public_jwk(key) if value is JWK else value for name, value in header.items()
        }
        return genuine.resigned(changes, key=key)

    return forge


JWK = object()  # in :func:`by_attacker`: "the attacker's public key as a JWK here"


def real_key(header: dict[str, Any] | None = None, **claims: Any) -> Callable[[Genuine], str]:
    """Signed by the real key, with these header and claim changes."""
    return lambda genuine: genuine.resigned(header, claims)


def without(*names: str) -> Callable[[Genuine], str]:
    """Signed by the real key, without these claims."""
    return lambda genuine: genuine.resigned(drop=names)


HOUR = 3600
FORGERIES: dict[str, tuple[Callable[[Genuine], str], str]] = {
    "alg-none": (unsigned, "algorithm"),
    "hs256-keyed-with-public-pem": (hmac_with_public_key, "algorithm"),
    "alg-header-lies": (real_key({"alg": "ES512"}), "algorithm"),
    "tampered-payload": (tampered, "InvalidSignatureError"),
    "other-p256-key-real-kid": (by_attacker(), "InvalidSignatureError"),
    "unknown-kid": (real_key({"kid": "20260101-notOneOfOurs"}), "unknown_kid"),
    "kid-path": (real_key({"kid": "../../etc/passwd"}), "bad_kid"),
    "kid-sql": (real_key({"kid": "' OR 1=1 --"}), "bad_kid"),
    "kid-empty": (real_key({"kid": ""}), "bad_kid"),
    "kid-very-long": (real_key({"kid": "k" * 2000}), "bad_kid"),
    "kid-65-characters": (real_key({"kid": "k" * 65}), "bad_kid"),
    "kid-not-a-string": (real_key({"kid": 7}), "bad_kid"),
    "kid-missing": (real_key({"kid": None}), "bad_kid"),
    "embedded-jwk-real-kid": (by_attacker(jwk=JWK), "InvalidSignatureError"),
    "embedded-jwk-no-kid": (by_attacker(jwk=JWK, kid=None), "bad_kid"),
    "jku-elsewhere": (
        by_attacker(jku="https://attacker.example/jwks.json"),
        "InvalidSignatureError",
    ),
    "x5u-elsewhere": (
        by_attacker(x5u="https://attacker.example/cert.pem"),
        "InvalidSignatureError",
    ),
    # b64 is an extension PyJWT understands (RFC 7797), and rolegate still refuses it.
    "crit-b64": (real_key({"crit": ["b64"], "b64": True}), "critical_header"),
    "crit-unknown-extension": (real_key({"crit": ["exp"]}), "critical_header"),
    "typ-missing": (real_key({"typ": None}), "not_an_access_token"),
    "typ-jwt": (real_key({"typ": "JWT"}), "not_an_access_token"),
    "typ-id-token": (real_key({"typ": "id_token+jwt"}), "not_an_access_token"),
    "nbf-future": (lambda g: g.resigned(claims={"nbf": g.claims["iat"] + HOUR}), "not_yet_valid"),
    "wrong-iss": (real_key(iss="https://attacker.example"), "InvalidIssuerError"),
    "wrong-aud": (real_key(aud="another-service"), "InvalidAudienceError"),
    "aud-list-with-ours": (real_key(aud=["rolegate", "another-service"]), "InvalidAudienceError"),
    "aud-list-of-ours-only": (real_key(aud=["rolegate"]), "InvalidAudienceError"),
    "missing-exp": (without("exp"), "MissingRequiredClaimError"),
    "missing-sub": (without("sub"), "MissingRequiredClaimError"),
    "missing-tid": (without("tid"), "MissingRequiredClaimError"),
    "missing-sid": (without("sid"), "MissingRequiredClaimError"),
    "missing-jti": (without("jti"), "MissingRequiredClaimError"),
    "missing-iat": (without("iat"), "MissingRequiredClaimError"),
    "missing-nbf": (without("nbf"), "MissingRequiredClaimError"),
    "sub-not-a-uuid": (real_key(sub="alice"), "bad_subject"),
    "tid-not-a-uuid": (real_key(tid="acme"), "bad_subject"),
    "sub-not-a-string": (real_key(sub=12345), "InvalidSubjectError"),
    "exp-as-text": (real_key(exp="4102444800"), "bad_time_claim"),
    "no-such-session": (real_key(sid=str(uuid.uuid4())), "session_ended"),
}


@pytest.mark.parametrize(("forge", "reason"), list(FORGERIES.values()), ids=list(FORGERIES))
def test_a_forged_token_is_refused(
    rg: Rolegate, genuine: Genuine, forge: Callable[[Genuine], str], reason: str
) -> None:
    with pytest.raises(InvalidToken) as caught:
        rg.auth.verify(forge(genuine))
    assert caught.value.reason == reason
    assert caught.value.code == "invalid_token"
    assert str(caught.value) == "invalid or expired token"  # says nothing of why
    rg.auth.verify(genuine.token)  # and the real one still works


@pytest.mark.parametrize(
    "token",
    ["", "not a token", "a.b.c", "...", "rgr_" + "x" * 43, "Bearer x.y.z"],
)
def test_a_malformed_token_is_refused(rg: Rolegate, token: str) -> None:
    with pytest.raises(InvalidToken) as caught:
        rg.auth.verify(token)
    assert caught.value.reason == "malformed"


def test_the_refresh_token_is_not_a_bearer_token(rg: Rolegate, pair: TokenPair) -> None:
    with pytest.raises(InvalidToken) as caught:
        rg.auth.verify(pair.refresh_token)
    assert caught.value.reason == "malformed"


@pytest.mark.parametrize(
    "value", [None, b"header.payload.signature", 42, ["a.b.c"], {"token": "a.b.c"}]
)
def test_anything_but_a_string_is_an_invalid_token(rg: Rolegate, value: object) -> None:
    with pytest.raises(InvalidToken):
        rg.auth.verify(value)  # type: ignore[arg-type]


def test_a_token_longer_than_8_kib_is_refused_unread(rg: Rolegate, genuine: Genuine) -> None:
    """The longest genuine token within the limit verifies; one character more is refused."""
    assert MAX_TOKEN_LENGTH == 8192
    size = len(genuine.resigned(claims={"pad": ""}))
    pad = (MAX_TOKEN_LENGTH - size) * 3 // 4 - 4  # base64 makes 4 characters of 3 bytes
    while len(genuine.resigned(claims={"pad": "x" * (pad + 1)})) <= MAX_TOKEN_LENGTH:
        pad += 1
    longest, too_long = (genuine.resigned(claims={"pad": "x" * n}) for n in (pad, pad + 1))
    assert len(longest) <= MAX_TOKEN_LENGTH < len(too_long)
    rg.auth.verify(longest)
    with pytest.raises(InvalidToken) as caught:
        rg.auth.verify(too_long)
    assert caught.value.reason == "malformed"


# --- time -------------------------------------------------------------------------------------


@pytest.mark.parametrize("seen_before", [False, True], ids=["first-seen", "remembered"])
def test_a_token_is_valid_until_exp_plus_leeway(
    rg: Rolegate, clock: FakeClock, seen_before: bool
) -> None:
    member_with_password(rg)
    # Three logins at one instant: tokens with the same exp, each verified at one probe only
    # (unless seen_before), so the decoding path is tested at every probe, not the memory.
    pairs = [rg.auth.login("alice", PASSWORD, tenant="acme") for _ in range(3)]
    expires_at, leeway = pairs[0].access_expires_at, rg.settings.token_leeway
    assert expires_at == clock.now + rg.settings.access_token_ttl
    assert {p.access_expires_at for p in pairs} == {expires_at}
    if seen_before:
        for p in pairs:
            rg.auth.verify(p.access_token)
    probes = [expires_at - ONE_SECOND, expires_at + leeway - ONE_SECOND, expires_at + leeway]
    clock.now = probes[0]
    rg.auth.verify(pairs[0].access_token)
    clock.now = probes[1]  # past exp, within the leeway for clock skew
    rg.auth.verify(pairs[1].access_token)
    clock.now = probes[2]
    with pytest.raises(InvalidToken) as caught:
        rg.auth.verify(pairs[2].access_token)
    assert caught.value.reason == "expired"
    for p in pairs:  # and none of them ever again
        with pytest.raises(InvalidToken):
            rg.auth.verify(p.access_token)


def test_an_expired_token_stays_refused_later(
    rg: Rolegate, clock: FakeClock, pair: TokenPair
) -> None:
    rg.auth.verify(pair.access_token)
    clock.advance(rg.settings.access_token_ttl + rg.settings.token_leeway + timedelta(hours=1))
    with pytest.raises(InvalidToken) as caught:
        rg.auth.verify(pair.access_token)
    assert caught.value.reason == "expired"


def test_nbf_is_honoured_up_to_the_leeway(rg: Rolegate, genuine: Genuine) -> None:
    now, leeway = genuine.claims["iat"], int(rg.settings.token_leeway.total_seconds())
    rg.auth.verify(genuine.resigned(claims={"nbf": now + leeway}))
    with pytest.raises(InvalidToken) as caught:
        rg.auth.verify(genuine.resigned(claims={"nbf": now + leeway + 1}))
    assert caught.value.reason == "not_yet_valid"


# --- key rotation -----------------------------------------------------------------------------


def test_a_rotated_out_key_verifies_until_its_tokens_have_expired(
    rg: Rolegate, clock: FakeClock, pair: TokenPair, genuine: Genuine
) -> None:
    old_kid = rg.keys.signer().kid
    # Signed by the old key but valid for a day: only the key's own window can refuse it.
    long_lived = genuine.resigned(claims={"exp": timestamp(clock.now + timedelta(days=1))})
    rg.auth.verify(long_lived)  # remembered before the rotation, too
    rg.keys.rotate()
    new_kid = rg.keys.signer().kid
    assert new_kid != old_kid
    window_end = clock.now + rg.settings.access_token_ttl + rg.settings.token_leeway
    [old] = [key for key in rg.keys.list() if key.kid == old_kid]
    assert old.verify_until == window_end and not old.is_signing

    clock.now = window_end - ONE_SECOND
    rg.auth.verify(pair.access_token)  # the real token, issued before the rotation
    rg.auth.verify(long_lived)
    fresh = rg.auth.login("alice", PASSWORD, tenant="acme")
    assert jwt.get_unverified_header(fresh.access_token)["kid"] == new_kid

    clock.now = window_end + ONE_SECOND
    with pytest.raises(InvalidToken):  # though it was verified, and remembered, before
        rg.auth.verify(long_lived)
    with pytest.raises(InvalidToken) as caught:
        rg.auth.verify(genuine.resigned())  # nor any token the old key signs from now on
    assert caught.value.reason == "key_retired"
    rg.auth.verify(fresh.access_token)
    assert old_kid not in {key["kid"] for key in rg.auth.jwks()["keys"]}


# --- algorithms ---------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["ES256", "EdDSA", "RS256"])
def test_each_asymmetric_algorithm_signs_and_publishes_only_public_keys(
    database_url: str, clock: FakeClock, algorithm: str
) -> None:
    with configured(database_url, clock, token_algorithm=algorithm) as rg:
        member_with_password(rg)
        pair = rg.auth.login("alice", PASSWORD, tenant="acme")
        header = jwt.get_unverified_header(pair.access_token)
        assert header["alg"] == algorithm
        assert rg.auth.verify(pair.access_token).session_id == pair.session.id
        rg.keys.rotate()
        keys = rg.auth.jwks()["keys"]
        assert len(keys) == 2 and header["kid"] in {key["kid"] for key in keys}
        for key in keys:
            assert key["alg"] == algorithm and key["use"] == "sig"
            assert not PRIVATE_MEMBERS & key.keys(), sorted(key)
            jwt.PyJWK(key)  # a usable public key
        assert all(not PRIVATE_MEMBERS & key.public_jwk.keys() for key in rg.keys.list())


def test_hs256_signs_with_the_configured_secret(database_url: str, clock: FakeClock) -> None:
    with configured(database_url, clock, token_algorithm="HS256", token_secret=HS256_SECRET) as rg:
        member_with_password(rg)
        pair = rg.auth.login("alice", PASSWORD, tenant="acme")
        header = jwt.get_unverified_header(pair.access_token)
        assert header["alg"] == "HS256"
        assert header["kid"].startswith("hs256-") and HS256_SECRET not in header["kid"]
        assert rg.auth.verify(pair.access_token).session_id == pair.session.id
        assert rg.auth.jwks() == {"keys": []}  # a shared secret is never published
        with pytest.raises(InvalidConfiguration, match="token_secret"):
            rg.keys.rotate()


def test_hs256_and_es256_deployments_refuse_each_others_tokens(
    rg: Rolegate, database_url: str, clock: FakeClock, pair: TokenPair
) -> None:
    hs256 = {"token_algorithm": "HS256", "token_secret": HS256_SECRET}
    with configured(database_url, clock, **hs256) as symmetric:
        hs_pair = symmetric.auth.login("alice", PASSWORD, tenant="acme")
        symmetric.auth.verify(hs_pair.access_token)
        with pytest.raises(InvalidToken) as caught:
            symmetric.auth.verify(pair.access_token)  # its key is in the shared database
        assert caught.value.reason == "algorithm"
        with pytest.raises(InvalidToken) as caught:
            rg.auth.verify(hs_pair.access_token)
        assert caught.value.reason == "unknown_kid"
    # Even knowing the secret, an ES256 deployment never verifies with it (RFC 8725 §2.1).
    with configured(database_url, clock, token_secret=HS256_SECRET) as asymmetric:
        asymmetric.auth.verify(pair.access_token)
        with pytest.raises(InvalidToken) as caught:
            asymmetric.auth.verify(hs_pair.access_token)
        assert caught.value.reason == "algorithm"


@pytest.mark.parametrize("secret", [None, "", "x" * 31, "é" * 15])
def test_hs256_needs_a_secret_of_32_bytes(secret: str | None) -> None:
    with pytest.raises(ValidationError, match=r"ROLEGATE_TOKEN_SECRET.* of 32\+ random bytes"):
        Settings(token_algorithm="HS256", token_secret=secret)
    assert Settings(token_algorithm="HS256", token_secret="é" * 16).token_secret is not None


# --- private keys at rest -----------------------------------------------------------------------


def stored_private_keys(rg: Rolegate) -> list[tuple[str, bool]]:
    """(private_key, encrypted) of every stored signing key, read with SQLAlchemy."""
    with rg.db.reading() as session:
        query = select(SigningKeyRecord.private_key, SigningKeyRecord.encrypted)
        return [(pem, encrypted) for pem, encrypted in session.execute(query)]


def test_without_a_key_encryption_key_private_keys_are_plain_pkcs8(
    rg: Rolegate, pair: TokenPair
) -> None:
    [(pem, encrypted)] = stored_private_keys(rg)
    assert pem.startswith("-----BEGIN PRIVATE KEY-----") and not encrypted


def test_a_key_encryption_key_encrypts_stored_private_keys(
    database_url: str, clock: FakeClock
) -> None:
    kek = "a long key-encryption key, kept in a vault"
    with configured(database_url, clock, key_encryption_key=kek) as rg:
        member_with_password(rg)
        pair = rg.auth.login("alice", PASSWORD, tenant="acme")
        rg.auth.verify(pair.access_token)
        [(pem, encrypted)] = stored_private_keys(rg)
        assert pem.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----") and encrypted
        with pytest.raises(TypeError):  # nobody reads it without the passphrase
            serialization.load_pem_private_key(pem.encode(), password=None)
    for wrong in ("not the key-encryption key", None):
        with configured(database_url, clock, key_encryption_key=wrong) as other:
            with pytest.raises(InvalidConfiguration, match="key_encryption_key"):
                other.auth.login("alice", PASSWORD, tenant="acme")


def test_a_wrong_key_encryption_key_fails_login_before_anything_is_written(
    database_url: str, clock: FakeClock
) -> None:
    with configured(database_url, clock, key_encryption_key="the right one, in a vault") as rg:
        member_with_password(rg)
        rg.auth.login("alice", PASSWORD, tenant="acme")
        sessions = count_rows(rg, SessionRecord.__tablename__)
    with configured(database_url, clock, key_encryption_key="a wrong one") as other:
        with pytest.raises(InvalidConfiguration):
            other.auth.login("alice", PASSWORD, tenant="acme")
        assert count_rows(other, SessionRecord.__tablename__) == sessions


def test_keys_stored_before_a_key_encryption_key_was_set_still_sign(
    database_url: str, clock: FakeClock
) -> None:
    with configured(database_url, clock) as plain:
        member_with_password(plain)
        plain.auth.login("alice", PASSWORD, tenant="acme")
    with configured(database_url, clock, key_encryption_key="set later, in a vault") as rg:
        pair = rg.auth.login("alice", PASSWORD, tenant="acme")
        assert rg.auth.verify(pair.access_token)
        rg.keys.rotate()  # the new signing key is encrypted
        assert [encrypted for _, encrypted in stored_private_keys(rg)].count(True) == 1


def test_a_node_that_only_verifies_drops_a_key_rotated_out_elsewhere(
    rg: Rolegate, database_url: str, clock: FakeClock, genuine: Genuine
) -> None:
    long_lived = genuine.resigned(claims={"exp": timestamp(clock.now + timedelta(days=1))})
    settings = Settings(watch_changes=True)
    with Rolegate(database_url, hasher=FAST_HASHER, clock=clock, settings=settings) as node:
        assert node.auth.verify(long_lived)  # remembered by a node that never signs
        rg.keys.rotate()
        clock.advance(rg.settings.access_token_ttl + rg.settings.token_leeway + ONE_SECOND)

        def refused() -> bool:
            try:
                node.auth.verify(long_lived)
            except InvalidToken:
                return True
            return False

        assert wait_until(refused, timeout=5) is not None
