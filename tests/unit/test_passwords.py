"""Password hashing (argon2id) and the password rules checked before hashing."""

from __future__ import annotations

import pytest

from rolegate.authn.passwords import MAX_PASSWORD_BYTES, Argon2Hasher, normalise_password
from rolegate.errors import InvalidInput, InvalidPassword
from tests.factories import FAST_HASHER, PASSWORD


def test_hash_is_salted_argon2id_with_the_configured_parameters() -> None:
    encoded = FAST_HASHER.hash(PASSWORD)
    assert encoded.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert PASSWORD not in encoded
    assert FAST_HASHER.hash(PASSWORD) != encoded  # a fresh salt each time


def test_default_parameters_are_owasps_minimum() -> None:
    assert Argon2Hasher().hash(PASSWORD).startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_verify_accepts_the_password_and_nothing_else() -> None:
    encoded = FAST_HASHER.hash(PASSWORD)
    assert FAST_HASHER.verify(PASSWORD, encoded) is True
    assert FAST_HASHER.verify(PASSWORD + " ", encoded) is False
    assert FAST_HASHER.verify(PASSWORD.upper(), encoded) is False
    assert FAST_HASHER.verify("", encoded) is False


def test_verify_does_not_depend_on_the_verifiers_own_parameters() -> None:
    encoded = FAST_HASHER.hash(PASSWORD)
    other = Argon2Hasher(memory_kib=16, time_cost=2, parallelism=1)
    assert other.verify(PASSWORD, encoded) is True


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "nonsense",
        "$argon2id$garbage",
        "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ",
        "$2b$12$abcdefghijklmnopqrstuuJ8kqvAYQ2U8U3lZLx6N4q0sS0Yl2G.e",
        "pbkdf2_sha256$600000$salt$hash",
        "$argon2id$v=19$m=8,t=1,p=1$ünïcode$häsh",
    ],
)
def test_a_malformed_hash_is_a_mismatch_not_a_crash(encoded: str) -> None:
    assert FAST_HASHER.verify(PASSWORD, encoded) is False
    assert FAST_HASHER.needs_rehash(encoded) is True


def test_a_password_that_is_not_unicode_text_never_verifies() -> None:
    assert FAST_HASHER.verify("\ud800 lone surrogate", FAST_HASHER.hash(PASSWORD)) is False


def test_needs_rehash_when_the_parameters_differ() -> None:
    encoded = FAST_HASHER.hash(PASSWORD)
    assert FAST_HASHER.needs_rehash(encoded) is False
    assert Argon2Hasher(memory_kib=16, time_cost=1, parallelism=1).needs_rehash(encoded)
    assert Argon2Hasher(memory_kib=8, time_cost=2, parallelism=1).needs_rehash(encoded)
    assert Argon2Hasher(memory_kib=16, time_cost=1, parallelism=2).needs_rehash(encoded)


def test_no_truncation_a_difference_in_the_last_byte_matters() -> None:
    long_password = "x" * (MAX_PASSWORD_BYTES - 1)
    encoded = FAST_HASHER.hash(long_password + "a")
    assert FAST_HASHER.verify(long_password + "a", encoded)
    assert not FAST_HASHER.verify(long_password + "b", encoded)


# --- normalise_password ------------------------------------------------------------------------


def test_normalise_returns_the_nfkc_form() -> None:
    assert normalise_password("ｐａｓｓｗｏｒｄ１２３４", min_length=12) == "password1234"
    assert normalise_password("ﬁsh and chips!", min_length=12) == "fish and chips!"
    composed, decomposed = "caf\u00e9 au lait ok", "cafe\u0301 au lait ok"
    assert normalise_password(decomposed, min_length=12) == composed


def test_normalise_accepts_spaces_and_any_unicode_unchanged() -> None:
    for password in ("  leading and trailing  ", "correct horse battery", "🔑 ключ 鍵 مفتاح 🗝️"):
        assert normalise_password(password, min_length=8) == password


def test_normalise_never_changes_case() -> None:
    assert normalise_password("MiXeD CaSe PaSs", min_length=12) == "MiXeD CaSe PaSs"


def test_minimum_length_counts_characters_after_normalisation() -> None:
    assert normalise_password("é" * 12, min_length=12) == "é" * 12  # 24 bytes, 12 characters
    with pytest.raises(InvalidPassword, match="shorter than 12 characters"):
        normalise_password("é" * 11, min_length=12)
    with pytest.raises(InvalidPassword):
        normalise_password("", min_length=1)


def test_length_is_bounded_in_utf8_bytes_without_truncation() -> None:
    at_limit = "é" * (MAX_PASSWORD_BYTES // 2)  # exactly 1 KiB of UTF-8
    assert normalise_password(at_limit, min_length=12) == at_limit
    with pytest.raises(InvalidPassword, match=f"longer than {MAX_PASSWORD_BYTES} bytes"):
        normalise_password(at_limit + "e", min_length=12)
    ascii_limit = "a" * MAX_PASSWORD_BYTES
    assert normalise_password(ascii_limit, min_length=12) == ascii_limit


def test_a_lone_surrogate_is_an_invalid_password_not_a_crash() -> None:
    with pytest.raises(InvalidPassword, match="not valid Unicode"):
        normalise_password("\ud800" * 12, min_length=12)


def test_password_errors_never_echo_the_password() -> None:
    for password, min_length in (("tiny secret", 20), ("s3cret" * 200, 1)):
        with pytest.raises(InvalidPassword) as caught:
            normalise_password(password, min_length=min_length)
        assert password not in str(caught.value)
        assert isinstance(caught.value, InvalidInput)
        assert caught.value.code == "invalid_password"
