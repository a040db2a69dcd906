"""A production server refuses an unsafe configuration before it opens the database."""

from __future__ import annotations

from pathlib import Path

import pytest

from rolegate import InvalidConfiguration
from rolegate.api.app import create_app_from_settings


@pytest.fixture
def production_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ROLEGATE_ENV", "production")
    monkeypatch.setenv("ROLEGATE_DATABASE_URL", f"sqlite:///{tmp_path / 'prod.db'}")
    for name in ("ROLEGATE_KEY_ENCRYPTION_KEY", "ROLEGATE_DEBUG", "ROLEGATE_SQL_ECHO"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("production_env")
def test_an_unsafe_production_app_is_refused_naming_each_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ROLEGATE_DEBUG", "1")
    with pytest.raises(InvalidConfiguration) as refused:
        create_app_from_settings()
    assert "ROLEGATE_KEY_ENCRYPTION_KEY" in str(refused.value)
    assert "ROLEGATE_DEBUG" in str(refused.value)
    assert not (tmp_path / "prod.db").exists()  # refused before anything was opened


@pytest.mark.usefixtures("production_env")
def test_a_safe_production_app_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLEGATE_KEY_ENCRYPTION_KEY", "a random key of forty characters, at least")
    app = create_app_from_settings()
    app.state.rolegate.close()
