"""Settings, read once from ``ROLEGATE_*`` environment variables (and a ``.env`` file if present).

Only the facade and the edges read settings; engines and services take plain values.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///rolegate.db"


class Settings(BaseSettings):
    """Every setting rolegate reads; see the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="ROLEGATE_", env_file=".env", extra="ignore")

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL: sqlite:///path.db or postgresql+psycopg://user:pw@host/db",
    )
    auto_upgrade: bool | None = Field(
        None,
        description="Upgrade the schema on first use; default: yes for SQLite, no otherwise",
    )
    # OWASP Password Storage Cheat Sheet: argon2id with m=19 MiB, t=2, p=1 at the least.
    argon2_memory_kib: int = Field(19_456, ge=8, description="argon2id memory cost in KiB")
    argon2_time_cost: int = Field(2, ge=1, description="argon2id iterations")
    argon2_parallelism: int = Field(1, ge=1, description="argon2id lanes")
    password_min_length: int = Field(12, ge=1, le=128, description="shortest password accepted")
    sql_echo: bool = Field(False, description="log every SQL statement (debugging)")
    authz_cache_size: int = Field(
        100_000, ge=1, description="compiled (user, tenant) snapshots kept in memory"
    )
    watch_changes: bool = Field(
        True, description="follow policy changes committed by other processes"
    )
    watch_interval: timedelta = Field(
        timedelta(milliseconds=50), description="SQLite: how often to look for other writers"
    )
