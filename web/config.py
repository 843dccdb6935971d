"""All of Kaohe's environment reads, in one place.

Everything else receives a :class:`Settings` (or the values it needs) as an argument, so the
engine, workflows and store can be tested without touching ``os.environ``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
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

    @property
    def is_production(self) -> bool:
        return self.env == "production"


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
    return Settings(
        database_url=url,
        env=env,
        instance_path=instance_path,
        log_level=level,
    )
