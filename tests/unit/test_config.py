"""The production audit of settings: each unsafe setting is one finding with a stable id."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsError

from rolegate.config import (
    Settings,
    audit_settings,
    describe_invalid_settings,
    is_secret,
    shown_value,
)

SAFE: dict[str, Any] = {
    "key_encryption_key": "k" * 40,
    "database_url": "postgresql://rolegate@db/rolegate",
}


def ids(settings: Settings) -> list[str]:
    return [finding.id for finding in audit_settings(settings)]


def test_a_safe_configuration_has_no_findings() -> None:
    assert ids(Settings.model_validate(SAFE)) == []


@pytest.mark.parametrize(
    ("override", "finding"),
    [
        ({"key_encryption_key": None}, "security.E001"),
        ({"key_encryption_key": "short"}, "security.E002"),
        ({"debug": True}, "security.E003"),
        ({"sql_echo": True}, "security.E004"),
        ({"argon2_memory_kib": 8}, "security.E005"),
        ({"argon2_time_cost": 1}, "security.E005"),
        ({"password_min_length": 6}, "security.E006"),
        ({"database_url": "sqlite:///rolegate.db"}, "security.W001"),
    ],
)
def test_each_unsafe_setting_is_named(override: dict[str, object], finding: str) -> None:
    settings = Settings.model_validate({**SAFE, **override})
    [found] = audit_settings(settings)
    assert found.id == finding
    assert str(found).startswith(f"[{finding}] ROLEGATE_")
    assert found.is_error == finding.startswith("security.E")


def test_hs256_needs_no_key_encryption_key_but_a_long_secret() -> None:
    settings = Settings.model_validate(
        {**SAFE, "key_encryption_key": None, "token_algorithm": "HS256", "token_secret": "s" * 32}
    )
    assert ids(settings) == []
    with pytest.raises(ValidationError, match="32"):
        Settings(token_algorithm="HS256", token_secret="s" * 31)


def test_the_environment_is_development_or_production() -> None:
    assert Settings().env == "development"
    with pytest.raises(ValidationError):
        Settings.model_validate({"env": "staging"})


def problem_of(**given: object) -> str:
    """The one line the CLI prints for settings ``given``, which must be invalid."""
    with pytest.raises(ValidationError) as raised:
        Settings.model_validate(given)
    return describe_invalid_settings(raised.value)


def test_a_type_error_names_the_variable_and_the_value() -> None:
    assert problem_of(argon2_memory_kib="lots") == (
        "invalid setting ROLEGATE_ARGON2_MEMORY_KIB='lots': "
        "should be a valid integer, unable to parse string as an integer"
    )


def test_a_range_error_shows_the_value_as_the_variable_spells_it() -> None:
    assert problem_of(access_token_ttl="PT2H") == (
        "invalid setting ROLEGATE_ACCESS_TOKEN_TTL='PT2H': should be less than or equal to 1 hour"
    )


def test_a_validator_error_has_no_pydantic_prefix() -> None:
    problem = problem_of(trusted_proxies=["10.0.0.0/33"])

    assert problem == (
        "invalid setting ROLEGATE_TRUSTED_PROXIES=['10.0.0.0/33']: "
        "'10.0.0.0/33' does not appear to be an IPv4 or IPv6 network"
    )


def test_every_problem_is_named_not_only_the_first() -> None:
    problem = problem_of(env="staging", audit_sample_rate="2")

    assert "ROLEGATE_ENV='staging': should be 'development' or 'production'" in problem
    assert "ROLEGATE_AUDIT_SAMPLE_RATE='2': should be less than or equal to 1" in problem


def test_a_cross_field_error_names_both_variables_and_their_values() -> None:
    assert problem_of(session_idle_timeout="PT1M") == (
        "invalid settings: ROLEGATE_SESSION_IDLE_TIMEOUT='PT1M' must be at least "
        "ROLEGATE_ACCESS_TOKEN_TTL='PT10M' (default)"
    )
    assert problem_of(session_idle_timeout="PT2H", session_lifetime="PT1H") == (
        "invalid settings: ROLEGATE_SESSION_LIFETIME='PT1H' must be at least "
        "ROLEGATE_SESSION_IDLE_TIMEOUT='PT2H'"
    )


def test_a_cross_field_error_never_shows_a_secret() -> None:
    problem = problem_of(token_algorithm="HS256", token_secret="hunter2-not-long-enough")

    assert problem == (
        "invalid settings: ROLEGATE_TOKEN_ALGORITHM='HS256' needs "
        "ROLEGATE_TOKEN_SECRET='**********' of 32+ random bytes"
    )
    assert "ROLEGATE_TOKEN_SECRET (unset)" in problem_of(token_algorithm="HS256")


@pytest.mark.parametrize("setting", ["token_secret", "key_encryption_key", "bootstrap_password"])
def test_secret_settings_are_masked(setting: str) -> None:
    assert is_secret(setting)
    assert shown_value(setting, "hunter2") == "'**********'"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg://bob:hunter2@db:5432/rg", "postgresql+psycopg://bob:***@db:5432/rg"),
        ("postgresql://bob:p@ss:w@db/rg", "postgresql://bob:***@db/rg"),
        ("postgresql://db/rg", "postgresql://db/rg"),
        ("sqlite:///rolegate.db", "sqlite:///rolegate.db"),
    ],
)
def test_a_database_url_is_shown_without_its_password(url: str, shown: str) -> None:
    assert shown_value("database_url", url) == repr(shown)


def test_an_unreadable_list_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLEGATE_TRUSTED_PROXIES", "10.0.0.1")
    with pytest.raises(SettingsError) as raised:
        Settings()

    assert describe_invalid_settings(raised.value) == (
        "invalid setting ROLEGATE_TRUSTED_PROXIES='10.0.0.1': not JSON (Extra data)"
    )


@pytest.mark.parametrize(
    ("spelled", "length"),
    [
        ("PT45M", timedelta(minutes=45)),
        ("45m", timedelta(minutes=45)),
        ("2700", timedelta(minutes=45)),
        (2700, timedelta(minutes=45)),
        ("1h", timedelta(hours=1)),
    ],
)
def test_a_duration_setting_takes_iso_shorthands_and_seconds(
    monkeypatch: pytest.MonkeyPatch, spelled: object, length: timedelta
) -> None:
    monkeypatch.setenv("ROLEGATE_SESSION_IDLE_TIMEOUT", str(spelled))

    assert Settings().session_idle_timeout == length


def test_a_zero_shorthand_is_left_to_the_setting_s_own_bounds() -> None:
    assert Settings.model_validate({"token_leeway": "0s"}).token_leeway == timedelta(0)
    assert problem_of(invitation_ttl="100d") == (
        "invalid setting ROLEGATE_INVITATION_TTL='P100D': should be less than or equal to 90 days"
    )
