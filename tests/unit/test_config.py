"""The production audit of settings: each unsafe setting is one finding with a stable id."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from rolegate.config import Settings, audit_settings

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
