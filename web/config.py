"""All of Kaohe's environment reads, in one place.

Everything else receives a :class:`Settings` (or the values it needs) as an argument, so the
engine, workflows and store can be tested without touching ``os.environ``.
"""

from __future__ import annotations

import getpass
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Environment = Literal["development", "production", "test"]
ENVIRONMENTS: tuple[Environment, ...] = ("development", "production", "test")


class ConfigError(ValueError):
    """An environment variable holds a value Kaohe cannot use."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    env: Environment
    instance_path: Path
    log_level: str
    actor: str  # who CLI commands act as in the audit ledger
    actor_given: bool = False  # KAOHE_ACTOR was set (``actor`` is not the cli:<os user> default)
    # A CLI user's API token (KAOHE_TOKEN): proves who acts; kept out of repr and logs.
    token: str = field(default="", repr=False)
    # The web app's signing key (sessions, CSRF). Required in production; a random per-process key
    # otherwise, so a development restart logs everyone out.
    secret_key: str = ""
    # Largest accepted request body (uploads), in bytes.
    max_upload_bytes: int = 5 * 1024 * 1024
    # Failed logins before an account is locked, and for how long (minutes).
    lockout_threshold: int = 5
    lockout_minutes: int = 15
    # Where `kaohe serve` listens unless told otherwise.
    host: str = "127.0.0.1"
    port: int = 5000

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def trusts_named_actor(self) -> bool:
        """Whether a CLI command may act as ``KAOHE_ACTOR`` on the name alone, without that person's
        token or password: only on a development instance (never in test or production)."""
        return self.env == "development"


def default_database_url(instance_path: Path) -> str:
    return f"sqlite:///{(instance_path / 'kaohe.db').resolve()}"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read ``KAOHE_*`` variables; defaults give a development SQLite under ``instance/``."""
    env_vars = os.environ if environ is None else environ
    env = env_vars.get("KAOHE_ENV", "development").strip().lower()
    if env not in ENVIRONMENTS:
        raise ConfigError(f"KAOHE_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
    instance_path = Path(env_vars.get("KAOHE_INSTANCE_PATH", "instance")).resolve()
    url = env_vars.get("KAOHE_DATABASE_URL", "").strip() or default_database_url(instance_path)
    level = env_vars.get("KAOHE_LOG_LEVEL", "INFO").strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"KAOHE_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {level!r}")
    secret_key = env_vars.get("KAOHE_SECRET_KEY", "").strip()
    if not secret_key:
        if env == "production":
            raise ConfigError("KAOHE_SECRET_KEY must be set in production (e.g. 64 random hex digits)")
        secret_key = secrets.token_hex(32)
    elif env == "production" and len(secret_key) < 32:
        raise ConfigError("KAOHE_SECRET_KEY must be at least 32 characters in production")
    return Settings(
        database_url=url,
        env=env,
        instance_path=instance_path,
        log_level=level,
        actor=env_vars.get("KAOHE_ACTOR", "").strip() or f"cli:{getpass.getuser()}",
        actor_given=bool(env_vars.get("KAOHE_ACTOR", "").strip()),
        token=env_vars.get("KAOHE_TOKEN", "").strip(),
        secret_key=secret_key,
        max_upload_bytes=_positive_int(env_vars, "KAOHE_MAX_UPLOAD_BYTES", 5 * 1024 * 1024),
        lockout_threshold=_positive_int(env_vars, "KAOHE_LOCKOUT_THRESHOLD", 5),
        lockout_minutes=_positive_int(env_vars, "KAOHE_LOCKOUT_MINUTES", 15),
        host=env_vars.get("KAOHE_HOST", "127.0.0.1").strip() or "127.0.0.1",
        port=_positive_int(env_vars, "KAOHE_PORT", 5000),
    )


def _positive_int(env_vars: Mapping[str, str], name: str, default: int) -> int:
    raw = env_vars.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a positive integer, not {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be a positive integer, not {raw!r}")
    return value
