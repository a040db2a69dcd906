"""Redaction: secret-named values never reach the audit trail, at any depth; credentials in
a request target never reach a log."""

from __future__ import annotations

import pytest

from rolegate.audit.redact import REDACTED, is_secret_key, redact, redact_target


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "Password",
        "new_password",
        "password_hash",
        "client_secret",
        "refresh_token",
        "TOKEN",
        "api_key",
        "signing_key",
        "credentials",
        "hash",
    ],
)
def test_secret_keys_are_recognised_whatever_their_case(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["username", "email", "role", "permission", "before", "after"])
def test_ordinary_keys_are_not_secret(key: str) -> None:
    assert not is_secret_key(key)


def test_secrets_are_redacted_at_any_depth_and_the_rest_is_kept() -> None:
    details = {
        "username": "alice",
        "password": "hunter2-hunter2",
        "after": {"email": "a@example.com", "password_hash": "$argon2id$...", "n": 3},
        "sessions": [{"refresh_token": "r-1", "device": "phone"}, ("plain", {"api_key": "k"})],
        "deep": {"deeper": {"deepest": {"client_secret": "s", "ok": None}}},
    }
    assert redact(details) == {
        "username": "alice",
        "password": REDACTED,
        "after": {"email": "a@example.com", "password_hash": REDACTED, "n": 3},
        "sessions": [
            {"refresh_token": REDACTED, "device": "phone"},
            ["plain", {"api_key": REDACTED}],
        ],
        "deep": {"deeper": {"deepest": {"client_secret": REDACTED, "ok": None}}},
    }


def test_a_secret_key_redacts_its_whole_value_even_a_nested_one() -> None:
    details = {"credentials": {"user": "alice", "pin": "1234"}, "tokens": ["t1", "t2"]}
    assert redact(details) == {"credentials": REDACTED, "tokens": REDACTED}


def test_flags_about_secrets_are_not_secrets() -> None:
    # "has_password": True says a password exists, not what it is; it must stay readable.
    details = {"has_password": True, "password_changed": False, "token": None}
    assert redact(details) == details


def test_redaction_copies_and_never_changes_its_input() -> None:
    details = {"password": "p", "nested": {"token": "t"}}
    redact(details)
    assert details == {"password": "p", "nested": {"token": "t"}}


def test_non_mappings_pass_through() -> None:
    assert redact("password") == "password"
    assert redact(42) == 42
    assert redact(None) is None
    assert redact([1, "two"]) == [1, "two"]


def test_non_string_keys_are_compared_by_their_text() -> None:
    assert redact({1: "one", "token": "t"}) == {1: "one", "token": REDACTED}


JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz"


@pytest.mark.parametrize(
    "name",
    [
        "access_token",
        "ACCESS_TOKEN",
        "token",
        "refresh_token",
        "id_token",
        "code",
        "Code",
        "password",
        "api_key",
        "key",
        "secret",
        "client_secret",
        "access%5Ftoken",
        "jwt",
    ],
)
def test_credential_parameters_are_redacted_whatever_their_case(name: str) -> None:
    assert redact_target(f"/v1/x?page=2&{name}=s3cr3t&q=a") == f"/v1/x?page=2&{name}={REDACTED}&q=a"


def test_a_token_shaped_string_is_redacted_in_the_path_and_under_any_parameter() -> None:
    assert redact_target(f"/v1/x/{JWT}/y?state={JWT}") == f"/v1/x/{REDACTED}/y?state={REDACTED}"
    assert redact_target("/v1/x?r=rgr_abcdefghijklmnop") == f"/v1/x?r={REDACTED}"


@pytest.mark.parametrize(
    "target", ["/v1/tenants/acme/roles", "/v1/x?page=2&sort=name", "/v1/x?", "/v1/x?flag&code"]
)
def test_a_target_without_credentials_is_kept_as_it_is(target: str) -> None:
    assert redact_target(target) == target
