"""The name rules as the OpenAPI publishes them (the ``*_PATTERN`` of :mod:`rolegate.names`):
each means the same in an ECMA-262 engine as in Python's ``re``, and agrees with the parser.

For slugs, role, permission, grant and resource names the pattern and the parser accept exactly
the same strings (within the length limit). For usernames the documented direction is one way:
everything the parser accepts matches the pattern, which is exact on ASCII only (see
``_USERNAME_RULE``); for emails too, as the parser also bounds the lookup key's length.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rolegate.errors import InvalidName
from rolegate.names import (
    EMAIL_PATTERN,
    GRANT_PATTERN,
    MAX_EMAIL_LENGTH,
    MAX_PERMISSION_LENGTH,
    MAX_ROLE_NAME_LENGTH,
    MAX_SLUG_LENGTH,
    MAX_USERNAME_LENGTH,
    PERMISSION_PATTERN,
    RESOURCE_PATTERN,
    ROLE_NAME_PATTERN,
    TENANT_SLUG_PATTERN,
    USERNAME_PATTERN,
    UUID_PATTERN,
    or_uuid,
    parse_email,
    parse_grant,
    parse_permission,
    parse_resource_name,
    parse_role_name,
    parse_tenant_slug,
    parse_username,
)

Parser = Callable[[str], object]

#: pattern -> (the parser of the same rule, the longest value, the characters worth trying)
EXACT: dict[str, tuple[Parser, int, str]] = {
    TENANT_SLUG_PATTERN: (parse_tenant_slug, MAX_SLUG_LENGTH, "az09-_. A\n"),
    ROLE_NAME_PATTERN: (parse_role_name, MAX_ROLE_NAME_LENGTH, "aZ09_.-:* é\n"),
    PERMISSION_PATTERN: (parse_permission, MAX_PERMISSION_LENGTH, "azAZ09_.-:* é\n"),
    GRANT_PATTERN: (parse_grant, MAX_PERMISSION_LENGTH, "azAZ09_.-:* é\n"),
    RESOURCE_PATTERN: (parse_resource_name, MAX_PERMISSION_LENGTH, "azA09_.-:* é\n"),
}
PUBLISHED = [*EXACT, USERNAME_PATTERN, EMAIL_PATTERN, UUID_PATTERN]
PUBLISHED += [or_uuid(pattern) for pattern in EXACT]

# Python-only syntax an ECMA-262 engine reads differently or not at all.
_PYTHON_ONLY = re.compile(r"\\[wWdDsSbBAZ]|\(\?[P<aiLmsux]|\(\?#|\\[0-9]")


def accepts(parser: Parser, value: str) -> bool:
    try:
        parser(value)
    except InvalidName:
        return False
    return True


def ecma(pattern: str) -> jsonschema_rs.Validator:
    """A JSON Schema validator of ``pattern``: regexes read as ECMA-262 (``\\d`` is ASCII...)."""
    return jsonschema_rs.validator_for({"type": "string", "pattern": pattern})


@pytest.mark.parametrize("pattern", PUBLISHED)
def test_every_published_pattern_is_anchored_and_portable(pattern: str) -> None:
    assert pattern.startswith("^") and pattern.endswith("$")
    assert not _PYTHON_ONLY.search(pattern), "use only syntax ECMA-262 reads as Python does"
    re.compile(pattern)
    ecma(pattern)


def _samples(pattern: str, alphabet: str, max_length: int) -> st.SearchStrategy[str]:
    valid = st.from_regex(pattern, fullmatch=True).filter(lambda s: len(s) <= max_length)
    return valid | st.text(alphabet=alphabet, max_size=12) | st.text(max_size=4)


@pytest.mark.parametrize("pattern", list(EXACT))
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_an_exact_pattern_accepts_what_the_parser_accepts(
    pattern: str, data: st.DataObject
) -> None:
    parser, max_length, alphabet = EXACT[pattern]
    value = data.draw(_samples(pattern, alphabet, max_length))
    by_python = re.fullmatch(pattern, value) is not None
    assert ecma(pattern).is_valid(value) == by_python
    assert by_python == accepts(parser, value)


@pytest.mark.parametrize("pattern", list(EXACT))
@settings(max_examples=50, deadline=None)
@given(uuid=st.uuids())
def test_a_name_or_id_pattern_takes_ids_in_any_case(pattern: str, uuid: object) -> None:
    for text in (str(uuid), str(uuid).upper()):
        assert re.fullmatch(or_uuid(pattern), text)
        assert ecma(or_uuid(pattern)).is_valid(text)


@settings(max_examples=500, deadline=None)
@given(
    value=st.text(max_size=20)
    | st.from_regex(USERNAME_PATTERN, fullmatch=True)
    | st.text(alphabet=string.printable, max_size=20)
)
def test_the_username_pattern_holds_every_username_and_is_exact_on_ascii(value: str) -> None:
    by_python = re.fullmatch(USERNAME_PATTERN, value) is not None
    assert ecma(USERNAME_PATTERN).is_valid(value) == by_python
    if accepts(parse_username, value):
        assert by_python
    if value.isascii() and len(value) <= MAX_USERNAME_LENGTH:
        assert by_python == accepts(parse_username, value)


@settings(max_examples=300, deadline=None)
@given(
    value=st.text(max_size=20)
    | st.from_regex(EMAIL_PATTERN, fullmatch=True).filter(lambda s: len(s) <= MAX_EMAIL_LENGTH)
    | st.text(alphabet="ab@.  \t", max_size=12)
)
def test_the_email_pattern_holds_every_address_the_parser_takes(value: str) -> None:
    by_python = re.fullmatch(EMAIL_PATTERN, value) is not None
    assert ecma(EMAIL_PATTERN).is_valid(value) == by_python
    if accepts(parse_email, value):  # the parser (email-validator) is the stricter of the two
        assert by_python


@pytest.mark.parametrize(
    ("pattern", "valid", "invalid"),
    [
        (TENANT_SLUG_PATTERN, ["acme", "a", "a-1"], ["", "-a", "a-", "Acme", "a_b", "acme\n"]),
        (ROLE_NAME_PATTERN, ["viewer", "R.x-1_y"], ["", "-x", "a b", "a:b", "é"]),
        (PERMISSION_PATTERN, ["documents:read", "a:b:c", "VIEW_DASHBOARD"], ["a", "a:*", "a::b"]),
        (GRANT_PATTERN, ["*", "documents:*", "*:read", "a:b"], ["a", "**:a", "a:b*", "A:b"]),
        (RESOURCE_PATTERN, ["documents", "billing:invoices"], ["", "a:", "A", "a:*"]),
        (USERNAME_PATTERN, ["alice", "a.b@c+d-e_f", "josé", "Ωmega"], ["", "a b", "a!", "a/b"]),
        (EMAIL_PATTERN, ["a@b.co", " a@b.co "], ["a@b", "a b@c.d", "@b.co"]),
    ],
)
def test_patterns_read_samples_as_the_parsers_do_in_both_engines(
    pattern: str, valid: list[str], invalid: list[str]
) -> None:
    for value in valid:
        assert re.fullmatch(pattern, value) and ecma(pattern).is_valid(value), value
    for value in invalid:
        assert not re.fullmatch(pattern, value), value
        assert not ecma(pattern).is_valid(value), value
