"""Settings, read once from ``ROLEGATE_*`` environment variables (and a ``.env`` file if present).

Only the facade and the edges read settings; engines and services take plain values.
"""

from __future__ import annotations

import ipaddress
import json
import re
import string
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, Self, get_args

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, to_jsonable_python
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from rolegate.durations import shorthand

DEFAULT_DATABASE_URL = "sqlite:///rolegate.db"
#: OWASP Password Storage Cheat Sheet: the least argon2id memory for production.
OWASP_ARGON2_MEMORY_KIB = 19_456


class Settings(BaseSettings):
    """Every setting rolegate reads; see the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="ROLEGATE_", env_file=".env", extra="ignore")

    env: Literal["development", "production"] = Field(
        "development", description="production refuses to serve with an unsafe configuration"
    )
    debug: bool = Field(
        False, description="show tracebacks of unexpected errors (never in production)"
    )
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
    max_staleness: timedelta = Field(
        timedelta(seconds=5),
        gt=timedelta(0),
        description="checks deny (reason `stale`) once the policy is not confirmed current "
        "for this long",
    )

    # Tokens and sessions (SECURITY.md states every default and why).
    access_token_ttl: timedelta = Field(
        timedelta(minutes=10),
        ge=timedelta(minutes=1),
        le=timedelta(hours=1),
        description="lifetime of an access token (JWT)",
    )
    session_idle_timeout: timedelta = Field(
        timedelta(minutes=30), description="a session not refreshed for this long ends"
    )
    session_lifetime: timedelta = Field(
        timedelta(hours=12), description="a session ends this long after login, used or not"
    )
    invitation_ttl: timedelta = Field(
        timedelta(days=7),
        ge=timedelta(minutes=1),
        le=timedelta(days=90),
        description="how long an invitation into a tenant can be accepted",
    )
    token_issuer: str = Field("rolegate", min_length=1, description="the `iss` claim")
    token_audience: str = Field("rolegate", min_length=1, description="the `aud` claim")
    token_algorithm: Literal["ES256", "EdDSA", "RS256", "HS256"] = Field(
        "ES256", description="signs new access tokens"
    )
    token_secret: SecretStr | None = Field(
        None, description="HS256 only: a secret of at least 32 random bytes"
    )
    token_leeway: timedelta = Field(
        timedelta(seconds=10),
        ge=timedelta(0),
        le=timedelta(seconds=30),
        description="clock skew tolerated on exp and nbf",
    )
    token_permission_claims: bool = Field(
        False, description="add `roles` and `permissions` claims to access tokens"
    )
    token_claims_limit: int = Field(
        200, ge=1, le=2000, description="most roles plus permissions put into a token"
    )
    token_cache_size: int = Field(
        100_000, ge=1, description="verified access tokens remembered until they expire"
    )
    key_encryption_key: SecretStr | None = Field(
        None, description="encrypts the private parts of signing keys stored in the database"
    )
    bootstrap_username: str = Field(
        "admin",
        description="the first platform admin, made by `rolegate serve` on an empty platform",
    )
    bootstrap_password: SecretStr | None = Field(
        None,
        description="that admin's password; unset: a random one, printed once at that first start",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="addresses or networks whose X-Forwarded-For is believed (JSON list)",
    )
    # Brute-force protection; Keycloak's defaults (failure factor 30, wait increment 60 s,
    # max wait 15 min, failure reset 12 h, permanent lockout off). A hard limit is opt-in, at
    # most NIST SP 800-63B-4's 100 consecutive failures.
    lockout_failures: int = Field(30, ge=1, description="account failures before lockouts")
    lockout_ip_failures: int = Field(100, ge=1, description="client failures before lockouts")
    lockout_wait_increment: timedelta = Field(timedelta(seconds=60), gt=timedelta(0))
    lockout_max_wait: timedelta = Field(timedelta(minutes=15), gt=timedelta(0))
    lockout_reset: timedelta = Field(timedelta(hours=12), gt=timedelta(0))
    lockout_hard_limit: int = Field(
        0, ge=0, le=100, description="consecutive account failures that lock until unlocked; 0: off"
    )
    lockout_tenant_failures: int = Field(
        300, ge=0, description="failed logins per tenant per window before they are slowed; 0: off"
    )
    lockout_tenant_window: timedelta = Field(timedelta(minutes=5), gt=timedelta(0))
    # The decision trail (docs/audit.md): denials always, audited permissions' allows, a sample.
    audit_decisions: bool = Field(
        True, description="record authorization decisions (denials, audited permissions' allows)"
    )
    audit_sample_rate: float = Field(
        0.0, ge=0.0, le=1.0, description="fraction of all other allowed checks recorded too"
    )
    audit_buffer_size: int = Field(
        100_000, ge=1, description="decisions buffered for writing; beyond, they are dropped"
    )
    audit_batch_size: int = Field(500, ge=1, le=10_000, description="decisions per write")
    audit_flush_interval: timedelta = Field(
        timedelta(milliseconds=500),
        gt=timedelta(0),
        le=timedelta(minutes=1),
        description="longest a buffered decision waits to be written",
    )
    audit_writer_share: float = Field(
        0.25,
        gt=0.0,
        le=1.0,
        description="most of the time the decision writer may take: the rest is the checks'",
    )
    audit_seal_interval: timedelta | None = Field(
        None,
        ge=timedelta(seconds=1),
        description="`rolegate serve` signs every audit chain's head this often (unset: never)",
    )
    metrics_address: str | None = Field(
        None,
        pattern=r"^(\[[0-9A-Fa-f:.]+\]|[^\s:\[\]]+):[0-9]{1,5}$",
        description="host:port serving /metrics without a token, instead of the main listener",
    )

    @field_validator("*", mode="before")
    @classmethod
    def _shorthand_durations(cls, value: object, info: ValidationInfo) -> object:
        """A duration setting takes ISO 8601 and ``7d``-style shorthands, the forms of
        ``rolegate assign --expires`` and the API's ``expires_in``, and plain seconds (which
        pydantic takes from a number, not from the text of an environment variable)."""
        field = cls.model_fields[info.field_name] if info.field_name else None
        if field is not None and field.annotation is timedelta and isinstance(value, str):
            if value.strip().isdecimal():
                return timedelta(seconds=int(value))
            short = shorthand(value)
            return value if short is None else short
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)  # ValueError names the bad entry
        return value

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        if self.session_idle_timeout < self.access_token_ttl:
            raise self._conflict("{session_idle_timeout} must be at least {access_token_ttl}")
        if self.max_staleness <= 2 * self.watch_interval:
            raise self._conflict("{max_staleness} must be more than twice {watch_interval}")
        if self.session_lifetime < self.session_idle_timeout:
            raise self._conflict("{session_lifetime} must be at least {session_idle_timeout}")
        if self.token_algorithm == "HS256":
            secret = self.token_secret.get_secret_value() if self.token_secret else ""
            if len(secret.encode()) < 32:
                raise self._conflict("{token_algorithm} needs {token_secret} of 32+ random bytes")
        return self

    def _conflict(self, problem: str) -> SettingConflict:
        """``problem`` with each ``{setting}`` spelt as its variable and value, secrets masked."""
        names = tuple(name for _, name, _, _ in string.Formatter().parse(problem) if name)
        return SettingConflict(problem.format(**{n: self._shown(n) for n in names}), names)

    def _shown(self, setting: str) -> str:
        value = self.model_dump(mode="json", include={setting})[setting]  # timedelta as PT10M
        if value is None:
            return f"{variable_of(setting)} (unset)"
        given = "" if setting in self.model_fields_set else " (default)"
        return f"{variable_of(setting)}={shown_value(setting, value)}{given}"


class SettingConflict(ValueError):
    """Settings each valid alone but not together; ``settings`` names them, the message says
    why in the variables' own names and values (a secret's masked)."""

    def __init__(self, message: str, settings: tuple[str, ...]) -> None:
        super().__init__(message)
        self.settings = settings


_URL_PASSWORD = re.compile(r"(://[^:/@]*:)[^/]*@")  # to the last @: a password may hold one
_MASK = "'**********'"


def variable_of(setting: str) -> str:
    """The environment variable that sets ``setting``: ``ROLEGATE_<SETTING>``."""
    return f"ROLEGATE_{setting.upper()}"


def is_secret(setting: str) -> bool:
    """Whether ``setting`` holds a secret (a ``SecretStr``), whose value is never shown."""
    field = Settings.model_fields.get(setting)
    return field is not None and SecretStr in (field.annotation, *get_args(field.annotation))


def shown_value(setting: str, value: object) -> str:
    """``value`` of ``setting`` as an error message may show it: a secret masked, and a
    database URL's password too (it is a plain string, and often holds one)."""
    if is_secret(setting):
        return _MASK
    if setting == "database_url" and isinstance(value, str):
        value = _URL_PASSWORD.sub(r"\1***@", value)
    return repr(to_jsonable_python(value))  # as the variable spells it: PT2H, not timedelta(...)


def describe_invalid_settings(exc: ValidationError | SettingsError) -> str:
    """What is wrong with the settings, in one line: each problem names the variable(s), shows
    the value given (never a secret) and says the problem without pydantic's jargon."""
    if isinstance(exc, SettingsError):
        return _describe_unreadable(exc)
    return "; ".join(_describe(error) for error in exc.errors())


def _describe(error: ErrorDetails) -> str:
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, SettingConflict):
        return f"invalid settings: {cause}"
    # "Value error, <message>": the message alone; "Input should be ...": "should be ...".
    problem = str(cause) if isinstance(cause, Exception) else error["msg"]
    problem = problem.removeprefix("Input ")
    setting, *inside = error["loc"]
    if not isinstance(setting, str) or setting not in Settings.model_fields:
        return f"invalid settings: {problem}"
    where = "".join(f"[{part}]" for part in inside)  # an entry of a list setting
    shown = shown_value(setting, error["input"])
    return f"invalid setting {variable_of(setting)}{where}={shown}: {problem}"


def _describe_unreadable(exc: SettingsError) -> str:
    # pydantic-settings decodes list settings as JSON before validating, and says only which.
    found = re.search(r'field "(\w+)"', str(exc))
    if found is None:
        return f"invalid settings: {exc}"
    setting, cause = found.group(1), exc.__cause__
    if isinstance(cause, json.JSONDecodeError):
        shown = shown_value(setting, cause.doc)
        return f"invalid setting {variable_of(setting)}={shown}: not JSON ({cause.msg})"
    return f"invalid setting {variable_of(setting)}: cannot be read ({cause})"


@dataclass(frozen=True, slots=True)
class SettingProblem:
    """One finding of :func:`audit_settings`, with a stable id (``security.E001``)."""

    id: str
    setting: str
    message: str
    is_error: bool = True

    def __str__(self) -> str:
        return f"[{self.id}] ROLEGATE_{self.setting.upper()}: {self.message}"


def audit_settings(settings: Settings) -> list[SettingProblem]:
    """What makes ``settings`` unsafe for production; errors stop a production server.

    The ids are stable, so a deployment check can allow-list a finding by id.
    """
    found: list[SettingProblem] = []
    kek = settings.key_encryption_key.get_secret_value() if settings.key_encryption_key else ""
    if not kek and settings.token_algorithm != "HS256":
        found.append(
            SettingProblem(
                "security.E001",
                "key_encryption_key",
                "not set: token signing keys would be stored in the database unencrypted",
            )
        )
    elif kek and len(kek.encode()) < 32:
        found.append(
            SettingProblem(
                "security.E002", "key_encryption_key", "shorter than 32 bytes: use a random one"
            )
        )
    if settings.debug:
        found.append(SettingProblem("security.E003", "debug", "on: errors would show tracebacks"))
    if settings.sql_echo:
        found.append(
            SettingProblem("security.E004", "sql_echo", "on: SQL parameters (hashes) reach logs")
        )
    if settings.argon2_memory_kib < OWASP_ARGON2_MEMORY_KIB or settings.argon2_time_cost < 2:
        found.append(
            SettingProblem(
                "security.E005",
                "argon2_memory_kib",
                f"argon2id below OWASP's minimum (m={OWASP_ARGON2_MEMORY_KIB} KiB, t=2)",
            )
        )
    if not settings.audit_decisions:
        found.append(
            SettingProblem(
                "security.W002",
                "audit_decisions",
                "off: denied checks leave no trace in the audit trail",
                is_error=False,
            )
        )
    if settings.password_min_length < 8:
        found.append(
            SettingProblem(
                "security.E006", "password_min_length", "below 8 (NIST SP 800-63B-4's floor)"
            )
        )
    if settings.database_url.startswith("sqlite"):
        found.append(
            SettingProblem(
                "security.W001",
                "database_url",
                "SQLite: every server process must run on this one host; PostgreSQL scales out",
                is_error=False,
            )
        )
    return found
