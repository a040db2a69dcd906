"""Password hashing (argon2id) and the password rules checked before a hash is made."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Final, Protocol

from argon2 import PasswordHasher as _Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError

from rolegate.authn.blocklist import SortedWords, breached_passwords
from rolegate.authn.patterns import predictable_rule, repeated_unit
from rolegate.errors import InvalidPassword

#: Longest password accepted, in UTF-8 bytes: bounds the hashing work an attacker can ask for.
MAX_PASSWORD_BYTES: Final = 1024


class PasswordHasher(Protocol):
    """What rolegate needs from a password hasher; :class:`Argon2Hasher` is the default."""

    def hash(self, password: str) -> str: ...
    def verify(self, password: str, encoded: str) -> bool: ...
    def needs_rehash(self, encoded: str) -> bool: ...


class Argon2Hasher:
    """argon2id with OWASP's minimum parameters by default (m=19 MiB, t=2, p=1; RFC 9106)."""

    def __init__(
        self, *, memory_kib: int = 19_456, time_cost: int = 2, parallelism: int = 1
    ) -> None:
        self._argon2 = _Argon2(
            memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism, type=Type.ID
        )

    def hash(self, password: str) -> str:
        """Return the encoded argon2id hash (salt and parameters included) of ``password``."""
        return self._argon2.hash(password)

    def verify(self, password: str, encoded: str) -> bool:
        """Whether ``password`` matches ``encoded``; a malformed hash is a mismatch, not a crash."""
        try:
            return self._argon2.verify(encoded, password)
        except (VerificationError, InvalidHashError, UnicodeEncodeError):
            # argon2-cffi encodes a hash as ASCII (and a password as UTF-8) before parsing it
            return False

    def needs_rehash(self, encoded: str) -> bool:
        """Whether ``encoded`` was made with other parameters than the configured ones."""
        try:
            return self._argon2.check_needs_rehash(encoded)
        except InvalidHashError:
            return True


def normalise_password(password: str, *, min_length: int) -> str:
    """Return the NFKC form of ``password`` or raise :class:`InvalidPassword` saying why.

    NIST SP 800-63B-4: normalise, never truncate, never case-fold, no composition rules.
    """
    normal = bounded_password(password)
    if len(normal) < min_length:
        raise InvalidPassword(f"password shorter than {min_length} characters", rule="too_short")
    return normal


def bounded_password(password: str) -> str:
    """The NFKC form of ``password``, refused before any hashing when it is not text or longer
    than :data:`MAX_PASSWORD_BYTES` (so a megabyte password costs nothing)."""
    if len(password) > MAX_PASSWORD_BYTES:  # never normalise a huge string either
        raise InvalidPassword(f"password longer than {MAX_PASSWORD_BYTES} bytes", rule="too_long")
    normal = unicodedata.normalize("NFKC", password)
    try:
        size = len(normal.encode())
    except UnicodeEncodeError:  # a lone surrogate, as JSON "\ud800" or a mis-decoded argv gives
        raise InvalidPassword("password is not valid Unicode text", rule="not_text") from None
    if size > MAX_PASSWORD_BYTES:
        raise InvalidPassword(f"password longer than {MAX_PASSWORD_BYTES} bytes", rule="too_long")
    return normal


def common_passwords() -> SortedWords:
    """The bundled blocklist (``data/README.md``): zxcvbn's 30,000 most common passwords and the
    470,000-odd of 8+ characters among the top million of 10 million breached ones."""
    return breached_passwords()


#: Shorter identifying words are not searched for in passwords: "al" would refuse "metal".
MIN_CONTEXT_WORD: Final = 3
#: Shortest base word looked up once the digits and symbols around it are stripped.
MIN_BASE_WORD: Final = 4
#: The product's own name, the first word an attacker tries on a rolegate login.
PRODUCT_NAME: Final = "rolegate"


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """NIST SP 800-63B-4 §3.1.1.2: a minimum length, a blocklist of common passwords and of
    words from the account's context, and no composition rules."""

    min_length: int = 12

    def check(
        self,
        password: str,
        *,
        username: str = "",
        email: str | None = None,
        tenant_slugs: tuple[str, ...] = (),
    ) -> str:
        """Return the normalised password, or raise :class:`InvalidPassword` naming the rule."""
        normal = normalise_password(password, min_length=self.min_length)
        folded = normal.casefold()  # comparisons only; the password itself is never case-folded
        blocklist = common_passwords()
        if folded in blocklist:
            raise InvalidPassword("password is one of the most common passwords", rule="common")
        if PRODUCT_NAME in "".join(c for c in folded if c.isalnum()):
            raise InvalidPassword("password contains the product name", rule="product_name")
        _refuse_context(folded, username, email, tenant_slugs)
        _refuse_derived(folded, blocklist)
        return normal


def _refuse_context(
    folded: str, username: str, email: str | None, tenant_slugs: tuple[str, ...]
) -> None:
    context = [("username", username, "contains_username")]
    if email:
        context.append(("email address", email.rpartition("@")[0], "contains_email"))
    context += [("tenant name", slug, "contains_tenant") for slug in tenant_slugs]
    for label, word, rule in context:
        key = unicodedata.normalize("NFKC", word).casefold()
        if len(key) >= MIN_CONTEXT_WORD and key in folded:
            raise InvalidPassword(f"password contains the {label}", rule=rule)


def _refuse_derived(folded: str, blocklist: SortedWords) -> None:
    """Refuse what cracking rules derive from a list or a keyboard (hashcat's best64 appends
    digits and symbols, doubles words; zxcvbn's matchers look for walks and sequences)."""
    base = base_word(folded)
    if base != folded and len(base) >= MIN_BASE_WORD and base in blocklist:
        raise InvalidPassword(
            "password is a common password with digits or symbols around it", rule="common"
        )
    unit = repeated_unit(folded)
    if unit is not None and unit in blocklist:
        raise InvalidPassword("password repeats a common password", rule="repeated")
    rule = predictable_rule(folded)
    if rule is not None:
        raise InvalidPassword(_PREDICTABLE[rule], rule=rule)


_PREDICTABLE: Final = {
    "repeated": "password repeats one character or a few",
    "sequence": "password is a sequence of letters or digits",
    "keyboard_walk": "password is a walk along the keyboard",
}


def base_word(folded: str) -> str:
    """``folded`` without the digits, symbols and spaces at its ends ("!!monkey2024!!" →
    "monkey"); empty when it has no letter."""
    letters = [i for i, char in enumerate(folded) if char.isalpha()]
    return folded[letters[0] : letters[-1] + 1] if letters else ""
