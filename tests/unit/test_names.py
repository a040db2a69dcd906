"""Value rules for names: every ``parse_*`` rule, the lookup keys and the grant matching rule."""

from __future__ import annotations

import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rolegate.errors import InvalidInput, InvalidName
from rolegate.names import (
    MAX_EMAIL_LENGTH,
    MAX_PERMISSION_LENGTH,
    MAX_USERNAME_LENGTH,
    email_key,
    email_keys,
    grant_covers,
    parse_email,
    parse_grant,
    parse_permission,
    parse_resource_name,
    parse_role_name,
    parse_tenant_slug,
    parse_username,
    username_key,
)
from tests.reference import covers as reference_covers

# --- tenant slugs ------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", ["acme", "a", "7", "acme-2", "a1-b2-c3", "x" * 63])
def test_tenant_slug_accepts_lowercase_digits_and_inner_hyphens(slug: str) -> None:
    assert parse_tenant_slug(slug) == slug


@pytest.mark.parametrize(
    "slug",
    ["", "-acme", "acme-", "Acme", "ac_me", "ac me", "acme.io", "x" * 64, "acme\n", "ácme"],
)
def test_tenant_slug_rejects_anything_else_saying_why(slug: str) -> None:
    with pytest.raises(InvalidName) as caught:
        parse_tenant_slug(slug)
    assert (caught.value.kind, caught.value.value) == ("tenant", slug)
    assert "1-63 lowercase letters" in caught.value.reason
    assert caught.value.code == "invalid_name"
    assert isinstance(caught.value, InvalidInput) and isinstance(caught.value, ValueError)


# --- usernames and emails ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "username",
    ["alice", "Alice.Smith", "a@b+c-d_e", "élodie", "用户", "x", "x" * MAX_USERNAME_LENGTH],
)
def test_username_accepts_letters_digits_and_django_punctuation(username: str) -> None:
    assert parse_username(username) == username


def test_username_is_returned_in_nfkc_form() -> None:
    assert parse_username("ａｌｉｃｅ") == "alice"  # fullwidth letters
    assert parse_username("ﬁnn") == "finn"  # the "fi" ligature


@pytest.mark.parametrize(
    "username",
    ["", "has space", "semi;colon", "slash/name", "tab\tname", "x" * (MAX_USERNAME_LENGTH + 1)],
)
def test_username_rejects_spaces_punctuation_and_length(username: str) -> None:
    with pytest.raises(InvalidName) as caught:
        parse_username(username)
    assert (caught.value.kind, caught.value.value) == ("username", username)
    assert "no spaces" in caught.value.reason


def test_username_whose_key_would_outgrow_the_column_is_rejected() -> None:
    # "ß" case-folds to "ss": 150 of them make a 300-character key, which the
    # 150-character username_key column cannot hold.
    with pytest.raises(InvalidName):
        parse_username("ß" * MAX_USERNAME_LENGTH)
    assert parse_username("ß" * (MAX_USERNAME_LENGTH // 2)) == "ß" * (MAX_USERNAME_LENGTH // 2)


@pytest.mark.parametrize(
    ("one", "other"),
    [("Alice", "alice"), ("ALICE", "alice"), ("ａｌｉｃｅ", "Alice"), ("Straße", "STRASSE")],
)
def test_username_key_is_case_insensitive_and_nfkc(one: str, other: str) -> None:
    assert username_key(one) == username_key(other)


def test_username_key_keeps_different_names_apart() -> None:
    assert username_key("alice") != username_key("alicia")


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("alice@example.com", "alice@example.com"),
        ("  Alice@Example.COM  ", "Alice@example.com"),  # the domain lowercased, not the mailbox
        ("a.b+tag@sub.example.co.uk", "a.b+tag@sub.example.co.uk"),
        ("alice@bücher.example", "alice@bücher.example"),
        ("alice@BÜCHER.example", "alice@bücher.example"),
        ("alice@xn--bcher-kva.example", "alice@bücher.example"),  # IDNA, stored in Unicode
        ("jose\u0301@example.com", "jos\u00e9@example.com"),  # NFC
    ],
)
def test_email_is_trimmed_and_normalised(raw: str, parsed: str) -> None:
    assert parse_email(raw) == parsed


@pytest.mark.parametrize(
    ("email", "names"),
    [
        ("alice", "@-sign"),
        ("alice@", "after the @-sign"),
        ("@example.com", "before the @-sign"),
        ("alice@example", "period"),
        ("a@b", "period"),
        ("a b@example.com", "SPACE"),
        ("a@@b.com", "'@'"),
        ("a@-b.com", "hyphen"),
        ("Alice <a@b.com>", "display name"),
        ("", "@-sign"),
        ("a" * 243 + "@example.com", "too long"),  # 255 characters
        ("a@" + "e" * (MAX_EMAIL_LENGTH - 5) + ".com", "periods cannot be separated"),
    ],
)
def test_email_refusals_say_what_is_wrong(email: str, names: str) -> None:
    with pytest.raises(InvalidName) as caught:
        parse_email(email)
    assert (caught.value.kind, caught.value.value) == ("email", email)
    assert names in caught.value.reason, caught.value.reason


def test_email_whose_key_would_outgrow_the_column_is_rejected() -> None:
    address = "ß" * 130 + "@example.com"  # 142 characters, a 272-character key
    with pytest.raises(InvalidName):
        parse_email(address)
    assert parse_email("ß" * 100 + "@example.com") == "ß" * 100 + "@example.com"


def test_email_is_checked_without_any_dns_query(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> object:
        raise AssertionError("a DNS query was made")

    # the outside world only: every way a resolver could reach the network
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket, "gethostbyname", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    assert parse_email("alice@no-such-domain-anywhere.example") == (
        "alice@no-such-domain-anywhere.example"
    )


def test_email_key_is_case_insensitive_trimmed_and_nfkc() -> None:
    assert email_key(" Alice@Example.COM ") == email_key("alice@example.com")
    assert email_key("ａｌｉｃｅ@example.com") == "alice@example.com"
    assert email_key("alice@example.com") != email_key("alice@example.org")


def test_email_key_is_the_key_of_the_normalised_address() -> None:
    assert email_key("Alice@xn--bcher-kva.EXAMPLE") == email_key(
        parse_email("alice@bücher.example")
    )
    assert email_key("alice@bücher.example") == "alice@bücher.example"
    assert email_key("not an address") == "not an address"  # a login name, keyed as written


def test_email_keys_include_the_keys_of_rows_stored_before_normalisation() -> None:
    # The old key was the NFKC case fold of the address as written: an xn-- domain stayed so.
    assert email_keys("alice@bücher.example") == {
        "alice@bücher.example",
        "alice@xn--bcher-kva.example",
    }
    assert email_keys("Alice@Example.com") == {"alice@example.com"}


# --- roles and resources -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["viewer", "Admin", "a", "7", "team.lead-2_x", "R" * 64])
def test_role_name_accepts_letters_digits_and_inner_punctuation(name: str) -> None:
    assert parse_role_name(name) == name


@pytest.mark.parametrize("name", ["", "-x", "_x", ".x", "a b", "a:b", "é", "r*", "R" * 65])
def test_role_name_rejects_others(name: str) -> None:
    with pytest.raises(InvalidName) as caught:
        parse_role_name(name)
    assert (caught.value.kind, caught.value.value) == ("role", name)
    assert "1-64 letters" in caught.value.reason


@pytest.mark.parametrize("name", ["documents", "billing:invoices", "a.b-c_d", "x" * 255])
def test_resource_name_accepts_lowercase_segments(name: str) -> None:
    assert parse_resource_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "Documents", "a::b", ":a", "a:", "*", "documents:*", "docs read", "x" * 256]
)
def test_resource_name_rejects_others(name: str) -> None:
    with pytest.raises(InvalidName) as caught:
        parse_resource_name(name)
    assert (caught.value.kind, caught.value.value) == ("resource", name)


# --- permissions and grants --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "resource", "action"),
    [
        ("documents:read", "documents", "read"),
        ("billing:invoices:read", "billing:invoices", "read"),
        ("a.b-c_d:x9", "a.b-c_d", "x9"),
        ("VIEW_SCREEN_DASHBOARD", None, "VIEW_SCREEN_DASHBOARD"),
        ("EXPORT", None, "EXPORT"),
    ],
)
def test_permission_splits_into_resource_and_action(
    name: str, resource: str | None, action: str
) -> None:
    for parse in (parse_permission, parse_grant):
        parts = parse(name)
        assert (parts.name, parts.resource, parts.action) == (name, resource, action)
        assert not parts.is_pattern


INVALID_EVERYWHERE = [
    "documents",
    "Documents:read",
    "documents:",
    ":read",
    "a::b",
    "docs:re*d",
    "docs:*read",
    "documents:**",
    "VIEW__SCREEN",
    "_VIEW",
    "VIEW_",
    "view_screen",
    "documents:read ",
    "",
]


@pytest.mark.parametrize("name", INVALID_EVERYWHERE)
def test_permission_rejects_malformed_names(name: str) -> None:
    with pytest.raises(InvalidName) as caught:
        parse_permission(name)
    assert (caught.value.kind, caught.value.value) == ("permission", name)
    assert "resource:action" in caught.value.reason
    assert "'*'" not in caught.value.reason  # wildcards are not offered where they are not allowed


@pytest.mark.parametrize("name", INVALID_EVERYWHERE)
def test_grant_rejects_the_same_malformed_names(name: str) -> None:
    with pytest.raises(InvalidName) as caught:
        parse_grant(name)
    assert (caught.value.kind, caught.value.value) == ("grant", name)
    assert "'*' as a whole segment" in caught.value.reason


@pytest.mark.parametrize(
    ("pattern", "resource", "action"),
    [
        ("*", None, "*"),
        ("documents:*", "documents", "*"),
        ("billing:invoices:*", "billing:invoices", "*"),
        ("*:read", None, "read"),
        ("*:*", None, "*"),
        ("billing:*:read", None, "read"),
    ],
)
def test_wildcards_are_grants_only(pattern: str, resource: str | None, action: str) -> None:
    parts = parse_grant(pattern)
    assert (parts.name, parts.resource, parts.action) == (pattern, resource, action)
    assert parts.is_pattern
    with pytest.raises(InvalidName):
        parse_permission(pattern)


def test_permission_length_is_bounded() -> None:
    longest = "r:" + "a" * (MAX_PERMISSION_LENGTH - 2)
    assert parse_permission(longest).name == longest
    with pytest.raises(InvalidName) as caught:
        parse_permission(longest + "a")
    assert caught.value.reason == f"at most {MAX_PERMISSION_LENGTH} characters"
    with pytest.raises(InvalidName):
        parse_grant("A" * (MAX_PERMISSION_LENGTH + 1))


# --- grant_covers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "permission", "covered"),
    [
        ("*", "documents:read", True),
        ("*", "billing:invoices:read", True),
        ("*", "VIEW_SCREEN_DASHBOARD", True),
        ("documents:*", "documents:read", True),
        ("documents:*", "documents:drafts:read", True),
        ("documents:*", "documents", False),
        ("documents:*", "reports:read", False),
        ("documents:*", "documentsx:read", False),
        ("*:read", "x:read", True),
        ("*:read", "documents:read", True),
        ("*:read", "billing:invoices:read", False),
        ("*:read", "documents:write", False),
        ("*:*", "a:b", True),
        ("*:*", "a:b:c", True),
        ("*:*", "a", False),
        ("billing:*:read", "billing:invoices:read", True),
        ("billing:*:read", "billing:invoices:write", False),
        ("billing:*:read", "billing:a:b:read", False),
        ("documents:read", "documents:read", True),
        ("documents:read", "documents:write", False),
        ("documents:read", "documents:read:all", False),
        ("VIEW_SCREEN_DASHBOARD", "VIEW_SCREEN_DASHBOARD", True),
        ("VIEW_SCREEN_DASHBOARD", "VIEW_SCREEN", False),
        ("documents:*", "VIEW_SCREEN_DASHBOARD", False),
        ("*:read", "READ", False),
    ],
)
def test_grant_covers(pattern: str, permission: str, covered: bool) -> None:
    assert grant_covers(pattern, permission) is covered
    assert reference_covers(pattern, permission) is covered  # the oracle agrees on the examples


# --- properties --------------------------------------------------------------------------------

segments = st.from_regex(r"[a-z0-9_.-]{1,6}", fullmatch=True)
upper_snake = st.from_regex(r"[A-Z][A-Z0-9]{0,5}(_[A-Z0-9]{1,4}){0,3}", fullmatch=True)
dotted = st.lists(segments, min_size=2, max_size=4).map(":".join)
exact_names = st.one_of(dotted, upper_snake)
# Patterns over a tiny alphabet, so that they often match the permissions drawn beside them.
small_segments = st.sampled_from(["a", "b", "c"])
patterns = st.one_of(
    st.just("*"),
    st.lists(st.one_of(small_segments, st.just("*")), min_size=2, max_size=4).map(":".join),
)
small_names = st.lists(small_segments, min_size=2, max_size=4).map(":".join)


@given(exact_names)
def test_every_exact_name_parses_back_to_itself(name: str) -> None:
    parts = parse_permission(name)
    assert parts.name == name and not parts.is_pattern
    assert parse_grant(name) == parts
    if parts.resource is not None:
        assert f"{parts.resource}:{parts.action}" == name


@given(exact_names)
def test_every_exact_name_covers_itself_and_is_covered_by_star(name: str) -> None:
    assert grant_covers(name, name)
    assert grant_covers("*", name)


@given(exact_names, exact_names)
def test_a_pattern_without_star_covers_only_itself(pattern: str, permission: str) -> None:
    assert grant_covers(pattern, permission) is (pattern == permission)


@given(segments, segments, st.lists(segments, max_size=2))
def test_resource_star_covers_every_action_and_deeper_name(
    resource: str, action: str, deeper: list[str]
) -> None:
    assert grant_covers(f"{resource}:*", ":".join([resource, action, *deeper]))
    assert not grant_covers(f"{resource}:*", resource + "x:" + action)


@given(segments, segments, segments)
def test_leading_star_matches_exactly_one_segment(one: str, two: str, action: str) -> None:
    assert grant_covers(f"*:{action}", f"{one}:{action}")
    assert not grant_covers(f"*:{action}", f"{one}:{two}:{action}")


@given(patterns, small_names)
def test_grant_covers_agrees_with_the_reference_rule(pattern: str, permission: str) -> None:
    assert parse_grant(pattern).is_pattern is ("*" in pattern)
    assert grant_covers(pattern, permission) is reference_covers(pattern, permission)
