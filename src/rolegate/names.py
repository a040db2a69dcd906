"""Value rules for every name rolegate stores: tenant slugs, usernames, emails, roles, permissions.

Each ``parse_*`` function returns the canonical form of a valid value or raises
:class:`rolegate.errors.InvalidName` saying which rule the value broke. Services call these
before they touch the database, so a bad name never reaches a constraint.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final
from uuid import UUID

from email_validator import EmailNotValidError, ValidatedEmail, validate_email

from rolegate.errors import InvalidName

WILDCARD: Final = "*"
SEPARATOR: Final = ":"

MAX_SLUG_LENGTH: Final = 63
MAX_ROLE_NAME_LENGTH: Final = 64

# The rules as regular expressions, written once: the parsers below full-match them and the
# OpenAPI document publishes them (anchored, as ``*_PATTERN``), so the two cannot drift. Each
# is written in the common subset of Python ``re`` and ECMA-262 (no flags, no ``\w``, ``\s``).
_SLUG_RULE = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_ROLE_RULE = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
_SEGMENT_RULE = r"[a-z0-9_.-]+"
_UPPER_SNAKE_RULE = r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*"
_WILD_SEGMENT_RULE = rf"(?:{_SEGMENT_RULE}|\*)"
_UUID_RULE = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# Whitespace as Python reads it (``str.isspace``), spelt out: ECMA-262's ``\s`` differs (it has
# U+FEFF, not U+001C-U+001F nor U+0085).
_SPACE = r"\t-\r\x1c- \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_EMAIL_RULE = rf"[^@{_SPACE}]+@[^@{_SPACE}]+\.[^@{_SPACE}]+"
# The username alphabet is Unicode (``\w`` of Python ``re``, after NFKC), which an ECMA-262
# pattern without the ``u`` flag cannot spell. The published pattern is exact on ASCII (it
# refuses every ASCII character but letters, digits and ``. @ + - _``) and lets the rest of
# Unicode through: it is what a username needs, not all it needs; the parser decides the rest.
_USERNAME_RULE = rf"[^{_SPACE}\x00-\x1f\x7f-\x9f!-*,/:-?\[-^`{{-~]+"

TENANT_SLUG_PATTERN: Final = f"^{_SLUG_RULE}$"
ROLE_NAME_PATTERN: Final = f"^{_ROLE_RULE}$"
PERMISSION_PATTERN: Final = rf"^(?:{_UPPER_SNAKE_RULE}|{_SEGMENT_RULE}(?::{_SEGMENT_RULE})+)$"
GRANT_PATTERN: Final = (
    rf"^(?:{_UPPER_SNAKE_RULE}|\*|{_WILD_SEGMENT_RULE}(?::{_WILD_SEGMENT_RULE})+)$"
)
RESOURCE_PATTERN: Final = rf"^{_SEGMENT_RULE}(?::{_SEGMENT_RULE})*$"
USERNAME_PATTERN: Final = f"^{_USERNAME_RULE}$"
# The shape every address has (the parser trims it first; the pattern allows for that);
# email-validator, in ``parse_email``, decides the rest.
EMAIL_PATTERN: Final = rf"^[{_SPACE}]*{_EMAIL_RULE}[{_SPACE}]*$"
UUID_PATTERN: Final = f"^{_UUID_RULE}$"

_SLUG = re.compile(_SLUG_RULE)
_ROLE = re.compile(_ROLE_RULE)
_SEGMENT = re.compile(_SEGMENT_RULE)
_UPPER_SNAKE = re.compile(_UPPER_SNAKE_RULE)
# Django's username alphabet: word characters plus . @ + - _ (any script, no spaces).
_USERNAME = re.compile(r"[\w.@+-]+")


def any_of(*patterns: str) -> str:
    """One anchored pattern matching what any of the anchored ``patterns`` matches."""
    return f"^(?:{'|'.join(pattern[1:-1] for pattern in patterns)})$"


def or_uuid(pattern: str) -> str:
    """``pattern`` (anchored) widened to accept an id too: what a "name or id" parameter takes."""
    return any_of(pattern, UUID_PATTERN)


def chain_ref(tenant: str | None) -> str | UUID | None:
    """A tenant named at an edge, as the audit service takes it: text that reads as an id is a
    UUID (which also finds a deleted tenant's chain, and the nil UUID the global chain); any
    other text is a slug."""
    if tenant is None:
        return None
    try:
        return UUID(tenant)
    except ValueError:
        return tenant


MAX_PERMISSION_LENGTH: Final = 255
MAX_USERNAME_LENGTH: Final = 150
MAX_EMAIL_LENGTH: Final = 254  # RFC 5321 path limit


def parse_tenant_slug(value: str) -> str:
    """Return ``value`` if it is a valid tenant slug: 1-63 of ``a-z 0-9 -``, no edge hyphen."""
    if not _SLUG.fullmatch(value):
        raise InvalidName(
            "tenant",
            value,
            "use 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit",
        )
    return value


def parse_username(value: str) -> str:
    """Return the NFKC form of a username (letters, digits, ``. @ + - _``; at most 150)."""
    normal = unicodedata.normalize("NFKC", value)
    # The key must fit its column too, and case folding can lengthen a name ("ß" -> "ss").
    too_long = len(username_key(normal)) > MAX_USERNAME_LENGTH
    if not 0 < len(normal) <= MAX_USERNAME_LENGTH or too_long or not _USERNAME.fullmatch(normal):
        raise InvalidName(
            "username",
            value,
            f"use 1-{MAX_USERNAME_LENGTH} letters, digits or '.', '@', '+', '-', '_' (no spaces)",
        )
    return normal


def username_key(value: str) -> str:
    """Return the case-insensitive lookup key of a username (NFKC, then Unicode case-folded)."""
    return unicodedata.normalize("NFKC", value).casefold()


def parse_email(value: str) -> str:
    """Return the normalised form of a trimmed email address (RFC 5321/6531, internationalised
    domains included): the domain lowercased and in Unicode, the address NFC. The reason of a
    refusal is email-validator's, which names what is wrong."""
    email = value.strip()
    try:
        normal = _validated(email).normalized
    except EmailNotValidError as exc:
        raise InvalidName("email", value, str(exc)) from None
    if len(email_key(normal)) > MAX_EMAIL_LENGTH:  # the key must fit its column too ("ß" -> "ss")
        raise InvalidName(
            "email", value, f"the address is longer than {MAX_EMAIL_LENGTH} characters"
        )
    return normal


def email_key(value: str) -> str:
    """Return the case-insensitive lookup key of an email address: its normalised form, NFKC,
    Unicode case-folded. A value that is not a valid address (a login name being tried, a row
    stored before addresses were normalised) is keyed as written."""
    email = value.strip()
    try:
        email = _validated(email).normalized
    except EmailNotValidError:
        pass
    return unicodedata.normalize("NFKC", email).casefold()


def email_keys(value: str) -> frozenset[str]:
    """Every key a row holding the address ``value`` may have been stored under: the current
    :func:`email_key`, and the key of the address as written and in its ASCII (IDNA) form,
    which rows written before addresses were normalised have (``xn--`` domains)."""
    email = value.strip()
    written = {email}
    try:
        ascii_email = _validated(email).ascii_email
    except EmailNotValidError:
        ascii_email = None
    if ascii_email:
        written.add(ascii_email)
    legacy = {unicodedata.normalize("NFKC", form).casefold() for form in written}
    return frozenset({email_key(email), *legacy})


def _validated(email: str) -> ValidatedEmail:
    # No deliverability check: it would make a DNS query on every user created or updated.
    return validate_email(email, check_deliverability=False)


def parse_role_name(value: str) -> str:
    """Return ``value`` if it is a valid role name: 1-64 of ``A-Z a-z 0-9 _ . -``."""
    if not _ROLE.fullmatch(value):
        raise InvalidName(
            "role",
            value,
            "use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit",
        )
    return value


@dataclass(frozen=True, slots=True)
class PermissionParts:
    """A parsed permission name or grant pattern, split into resource and action."""

    name: str
    resource: str | None  # None for upper-snake names and patterns whose resource is '*'
    action: str

    @property
    def is_pattern(self) -> bool:
        """True when the name holds ``*`` segments and so stands for many permissions."""
        return WILDCARD in self.name.split(SEPARATOR)


def parse_permission(value: str) -> PermissionParts:
    """Parse an exact permission: ``resource:action`` (2+ lowercase segments) or ``UPPER_SNAKE``."""
    return _parse(value, allow_wildcards=False)


def parse_grant(value: str) -> PermissionParts:
    """Parse what a role may be granted: an exact permission or a pattern (``documents:*``)."""
    return _parse(value, allow_wildcards=True)


def _parse(value: str, *, allow_wildcards: bool) -> PermissionParts:
    kind = "grant" if allow_wildcards else "permission"
    if len(value) > MAX_PERMISSION_LENGTH:
        raise InvalidName(kind, value, f"at most {MAX_PERMISSION_LENGTH} characters")
    if _UPPER_SNAKE.fullmatch(value):
        return PermissionParts(value, None, value)
    if allow_wildcards and value == WILDCARD:
        return PermissionParts(value, None, WILDCARD)
    segments = value.split(SEPARATOR)
    if len(segments) < 2 or not all(_segment_ok(s, allow_wildcards) for s in segments):
        wildcard_note = ", or '*' as a whole segment" if allow_wildcards else ""
        raise InvalidName(
            kind,
            value,
            "expected 'resource:action' with lowercase segments of "
            f"letters, digits, '_', '.', '-'{wildcard_note}; or an UPPER_SNAKE name",
        )
    resource = SEPARATOR.join(segments[:-1])
    has_wild_resource = WILDCARD in segments[:-1]
    return PermissionParts(value, None if has_wild_resource else resource, segments[-1])


def _segment_ok(segment: str, allow_wildcards: bool) -> bool:
    return bool(_SEGMENT.fullmatch(segment)) or (allow_wildcards and segment == WILDCARD)


def parse_resource_name(value: str) -> str:
    """Return ``value`` if it is a valid resource name: lowercase segments joined by ``:``."""
    too_long = len(value) > MAX_PERMISSION_LENGTH  # a resource is a permission name's prefix
    if too_long or not all(_SEGMENT.fullmatch(s) for s in value.split(SEPARATOR)):
        raise InvalidName(
            "resource",
            value,
            f"use at most {MAX_PERMISSION_LENGTH} characters: lowercase segments of "
            "letters, digits, '_', '.', '-' joined by ':'",
        )
    return value


def grant_covers(pattern: str, permission: str) -> bool:
    """Whether a grant ``pattern`` covers the exact ``permission``.

    ``*`` alone covers everything. Otherwise segments compare one by one, a ``*`` segment
    matching exactly one segment, except a trailing ``*`` which matches one or more.
    """
    if pattern == permission or pattern == WILDCARD:
        return True
    wanted, held = pattern.split(SEPARATOR), permission.split(SEPARATOR)
    if wanted[-1] == WILDCARD and len(held) >= len(wanted):
        held = held[: len(wanted) - 1] + [WILDCARD]
    if len(wanted) != len(held):
        return False
    return all(w in (WILDCARD, h) for w, h in zip(wanted, held, strict=True))
