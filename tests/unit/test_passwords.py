"""Password hashing (argon2id) and the password rules checked before hashing."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from rolegate import Rolegate
from rolegate.authn.passwords import (
    MAX_PASSWORD_BYTES,
    MIN_CONTEXT_WORD,
    Argon2Hasher,
    PasswordPolicy,
    base_word,
    common_passwords,
    normalise_password,
)
from rolegate.authn.patterns import predictable_rule, repeated_unit
from rolegate.errors import InvalidCredentials, InvalidInput, InvalidPassword
from tests.factories import FAST_HASHER, PASSWORD, CountingHasher, FakeClock


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


# --- PasswordPolicy.check: what NIST SP 800-63B-4 asks a verifier to accept -------------------

POLICY = PasswordPolicy()  # the defaults: at least 12 characters


def test_the_default_minimum_is_twelve_characters() -> None:
    assert POLICY.check("twelve chars") == "twelve chars"
    with pytest.raises(InvalidPassword) as caught:
        POLICY.check("eleven char")
    assert caught.value.rule == "too_short"


@pytest.mark.parametrize(
    "password",
    [
        "spaces are fine in a passphrase",
        "  leading and trailing spaces  ",
        "a long one: " + "lorem ipsum dolor " * 10,  # 192 characters
        "🔑🗝️🔐 emoji all the way down 🔑🗝️🔐",
        "長い日本語のパスワードです安全",
        "ключ от квартиры где деньги лежат",
        "مفتاح سري طويل جدا",
    ],
    ids=["spaces", "edge-spaces", "192-characters", "emoji", "cjk", "cyrillic", "arabic"],
)
def test_check_accepts_long_passwords_spaces_and_any_unicode_unchanged(password: str) -> None:
    assert POLICY.check(password) == password


def test_check_accepts_more_than_128_characters() -> None:
    password = "".join(f"{i} bottles " for i in range(20))
    assert len(password) > 128
    assert POLICY.check(password) == password


def test_check_returns_the_nfkc_form_and_keeps_case() -> None:
    assert POLICY.check("ＶｉｏｌｅｔＳｔａｐｌｅ９９") == "VioletStaple99"
    assert POLICY.check("ﬁne Ｏrbit Ｌantern") == "fine Orbit Lantern"
    assert POLICY.check("MiXeD CaSe PaSsPhRaSe") == "MiXeD CaSe PaSsPhRaSe"
    assert POLICY.check("cafe\u0301 au lait ok") == "caf\u00e9 au lait ok"


def test_a_full_width_password_equals_its_ascii_form_and_hashes_alike() -> None:
    full_width, ascii_form = "ｏｒｂｉｔ ｌａｎｔｅｒｎ ４２", "orbit lantern 42"
    assert POLICY.check(full_width) == POLICY.check(ascii_form) == ascii_form
    assert FAST_HASHER.verify(POLICY.check(full_width), FAST_HASHER.hash(ascii_form))


def test_check_never_truncates_a_1024_byte_password() -> None:
    at_limit = "lantern " * (MAX_PASSWORD_BYTES // 8)
    assert len(at_limit.encode()) == MAX_PASSWORD_BYTES
    assert POLICY.check(at_limit) == at_limit
    multibyte = "é" * (MAX_PASSWORD_BYTES // 2 - 1) + "ab"  # not one repeated character
    assert len(multibyte.encode()) == MAX_PASSWORD_BYTES
    assert POLICY.check(multibyte) == multibyte


@pytest.mark.parametrize(
    "password",
    ["lantern " * (MAX_PASSWORD_BYTES // 8) + "!", "é" * (MAX_PASSWORD_BYTES // 2) + "e"],
    ids=["ascii", "multibyte"],
)
def test_check_refuses_1025_bytes_as_too_long(password: str) -> None:
    assert len(password.encode()) == MAX_PASSWORD_BYTES + 1
    with pytest.raises(InvalidPassword, match=f"longer than {MAX_PASSWORD_BYTES} bytes") as caught:
        POLICY.check(password)
    assert caught.value.rule == "too_long"


def test_no_composition_rules() -> None:
    for password in ("quietlantern", "QUIETLANTERN", "129834761052", "............x"):
        assert POLICY.check(password) == password


# --- common passwords --------------------------------------------------------------------------


def test_the_bundled_list_holds_at_least_ten_thousand_normalised_passwords() -> None:
    common = common_passwords()
    assert len(common) >= 10_000
    assert "" not in common
    assert all(word == word.casefold() for word in common)


def test_every_common_password_long_enough_is_refused_as_common() -> None:
    # 43,000-odd entries reach the default 12 characters; a policy with no real minimum puts
    # every entry of the list (zxcvbn's 30,000 and the breached ones of 8+) through the check.
    for policy in (POLICY, PasswordPolicy(min_length=1)):
        long_enough = [p for p in common_passwords() if len(p) >= policy.min_length]
        assert long_enough
        for password in long_enough:
            with pytest.raises(InvalidPassword) as caught:
                policy.check(password)
            assert caught.value.rule == "common", password


@pytest.mark.parametrize(
    "password", ["password1234", "PassWord1234", "PASSWORD1234", "ｐａｓｓｗｏｒｄ１２３４"]
)
def test_a_common_password_is_refused_whatever_its_case_or_width(password: str) -> None:
    with pytest.raises(InvalidPassword, match="one of the most common passwords") as caught:
        POLICY.check(password)
    assert caught.value.rule == "common"


def test_the_list_is_built_for_the_minimum_length() -> None:
    # The old 30,000-entry list held only 229 passwords of 12+ characters.
    assert sum(len(p) >= 12 for p in common_passwords()) >= 40_000
    assert sum(len(p) >= 8 for p in common_passwords()) >= 400_000


@pytest.mark.parametrize(
    "password",
    ["password12345678", "qwertyuiop123", "iloveyou123456", "Password12345678", "1qaz2wsx3edc"],
)
def test_breached_passwords_of_twelve_characters_and_more_are_refused(password: str) -> None:
    with pytest.raises(InvalidPassword) as caught:
        POLICY.check(password)
    assert caught.value.rule == "common"


@pytest.mark.parametrize(
    "password",
    [
        "!!monkey2024!!",
        "2024#dragonfly#",
        "  sunshine 9876543 ",
        "p@ssw0rd20242024",
        "Iloveyou!!!!!!",
    ],
)
def test_a_common_word_with_digits_or_symbols_around_it_is_refused_as_common(
    password: str,
) -> None:
    assert base_word(password.casefold()) in common_passwords()
    with pytest.raises(InvalidPassword, match="with digits or symbols around it") as caught:
        POLICY.check(password)
    assert caught.value.rule == "common"


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("qwertyuiop[]", "keyboard_walk"),
        ("1qaz2wsx3edc4rfv", "keyboard_walk"),
        ("asdfghjkl;'", "keyboard_walk"),
        ("zxcvbnm,./123", "keyboard_walk"),
        ("!QAZ@WSX#EDC", "keyboard_walk"),
        ("poiuytrewq0987", "keyboard_walk"),
        ("aaaaaaaaaaaa", "repeated"),
        ("abcabcabcabc", "repeated"),
        ("%%%%%%%%%%%%%%%", "repeated"),
        ("lanternlantern", "repeated"),  # a common word, twice
        ("123456789012", "sequence"),
        ("abcdefghijkl", "sequence"),
        ("zyxwvutsrqpo", "sequence"),
        ("9876543210abc", "sequence"),
    ],
)
def test_walks_repeats_and_sequences_are_refused_saying_which(password: str, rule: str) -> None:
    # The list alone refuses several of these; the rules hold without it.
    folded = password.casefold()
    unit = repeated_unit(folded)
    assert predictable_rule(folded) == rule or (unit is not None and unit in common_passwords())
    with pytest.raises(InvalidPassword) as caught:
        PasswordPolicy(min_length=8).check(password)
    assert caught.value.rule in {rule, "common"}


@pytest.mark.parametrize(
    "password", ["mnbvcxzpoiuytre", "hjkl;uiop[]\\vbnm", "mnopqrstuvw7890", "aaaabbbbccccdddd"]
)
def test_predictable_passwords_not_in_the_list_get_their_own_rule(password: str) -> None:
    assert password.casefold() not in common_passwords()
    with pytest.raises(InvalidPassword) as caught:
        POLICY.check(password)
    assert caught.value.rule in {"keyboard_walk", "sequence", "repeated"}
    assert caught.value.rule == predictable_rule(password.casefold())


@pytest.mark.parametrize(
    "password", ["rolegate-admin-2026", "My RoleGate password", "ROLE-GATE for ever", "rolegate"]
)
def test_the_product_name_is_refused(password: str) -> None:
    with pytest.raises(InvalidPassword, match="the product name") as caught:
        PasswordPolicy(min_length=8).check(password)
    assert caught.value.rule == "product_name"


@pytest.mark.parametrize(
    "password",
    [
        "violet staple orbit 9 lantern",
        "correct horse battery staple",
        "129834761052",
        "qwe lantern 123 orbit",  # short runs inside an otherwise unpredictable password
        "Tr0ub4dor&3 orbit",
        "monkey violet 2024!!",  # a common word, but not alone
        "a8Kd93mZq0Lw",
    ],
)
def test_passphrases_and_random_passwords_stay_accepted(password: str) -> None:
    assert POLICY.check(password) == password


# --- words from the account's context ------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "context", "rule", "message"),
    [
        ("my name is alice liddell", {"username": "alice"}, "contains_username", "the username"),
        ("WONDERLAND ALICE 2026", {"username": "alice"}, "contains_username", "the username"),
        (
            "mail me at alice.smith ok",
            {"email": "Alice.Smith@example.com"},
            "contains_email",
            "the email address",
        ),
        (
            "acme-corp rules forever",
            {"tenant_slugs": ("globex", "Acme-Corp")},
            "contains_tenant",
            "the tenant name",
        ),
    ],
    ids=["username", "username-any-case", "email-local-part", "tenant-slug"],
)
def test_a_password_containing_a_context_word_is_refused_saying_which(
    password: str, context: dict[str, object], rule: str, message: str
) -> None:
    with pytest.raises(InvalidPassword, match=f"^password contains {message}$") as caught:
        POLICY.check(password, **context)  # type: ignore[arg-type]
    assert caught.value.rule == rule
    assert password not in str(caught.value)


def test_the_email_domain_is_not_a_context_word() -> None:
    assert POLICY.check("example dot com forever", email="alice@example.com")


def test_context_words_are_compared_in_normal_form() -> None:
    with pytest.raises(InvalidPassword) as caught:
        POLICY.check("hello ｂｏｂｂｙ tables", username="Bobby")
    assert caught.value.rule == "contains_username"


def test_words_shorter_than_three_characters_are_not_searched() -> None:
    assert MIN_CONTEXT_WORD == 3
    password = "metal detector al jo"
    assert POLICY.check(password, username="al", email="jo@example.com", tenant_slugs=("me",))
    with pytest.raises(InvalidPassword) as caught:  # three characters are enough
        POLICY.check("metal detector", username="met")
    assert caught.value.rule == "contains_username"


# --- oversize passwords cost no hashing ----------------------------------------------------------


@pytest.fixture
def counting() -> CountingHasher:
    """Cheap (real) argon2id, counted: the public Argon2Hasher behind a counting wrapper."""
    return CountingHasher()


@pytest.fixture
def counted_rg(
    counting: CountingHasher, sqlite_template: Path, tmp_path: Path
) -> Iterator[Rolegate]:
    """A Rolegate on a fresh SQLite file hashing with :func:`counting`, counting from zero."""
    path = tmp_path / "passwords.db"
    shutil.copyfile(sqlite_template, path)
    with Rolegate(f"sqlite:///{path}", hasher=counting, clock=FakeClock()) as instance:
        counting.reset()
        yield instance


def test_an_oversize_password_is_refused_before_any_hashing(
    counted_rg: Rolegate, counting: CountingHasher
) -> None:
    rg, at_limit = counted_rg, "lantern " * (MAX_PASSWORD_BYTES // 8)
    for oversize in (at_limit + "a", "é" * (MAX_PASSWORD_BYTES // 2) + "e", "a" * 10**6):
        with pytest.raises(InvalidPassword) as caught:
            rg.users.create("alice", password=oversize)
        assert caught.value.rule == "too_long"
    assert counting.hashes == 0
    rg.users.create("alice", password=at_limit)
    assert counting.hashes == 1


def test_an_oversize_password_at_login_is_refused_before_any_hashing(
    counted_rg: Rolegate, counting: CountingHasher
) -> None:
    rg, at_limit = counted_rg, "lantern " * (MAX_PASSWORD_BYTES // 8)
    rg.users.create("alice", password=at_limit)
    rg.memberships.add("default", "alice")
    with pytest.raises(InvalidCredentials):  # the first attempt makes the dummy hash, once
        rg.auth.login("alice", "not the password at all")
    counting.reset()
    for oversize in (at_limit + "a", "a" * 10**6):
        with pytest.raises(InvalidCredentials):
            rg.auth.login("alice", oversize)
        with pytest.raises(InvalidCredentials):
            rg.auth.login("nobody", oversize)  # not even the dummy hash for unknown users
    assert (counting.hashes, counting.verifies) == (0, 0)
    rg.auth.login("alice", at_limit)
    assert counting.verifies == 1
