"""Configuration comes from the environment in one place; logs have one shape per environment."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
import structlog

from web.config import ConfigError, load_settings
from web.log import configure_logging


def test_defaults_to_sqlite_under_instance(tmp_path: Path) -> None:
    settings = load_settings({"KAOHE_INSTANCE_PATH": str(tmp_path / "inst")})
    assert settings.env == "development"
    assert settings.database_url == f"sqlite:///{tmp_path / 'inst' / 'kaohe.db'}"


def test_database_url_and_env_are_read(tmp_path: Path) -> None:
    key = tmp_path / "ledger.key"  # production needs the ledger signing key (test_audit_checkpoint.py)
    key.touch(mode=0o600)
    settings = load_settings({"KAOHE_DATABASE_URL": "postgresql://u@h/db", "KAOHE_ENV": "Production",
                              "KAOHE_SECRET_KEY": "k" * 64, "KAOHE_ACTOR": "office.li",
                              "KAOHE_SIGNING_KEY": str(key)})
    assert settings.actor == "office.li"
    assert settings.database_url == "postgresql://u@h/db"
    assert settings.is_production


def test_unknown_environment_is_refused() -> None:
    with pytest.raises(ConfigError, match="KAOHE_ENV must be one of development, production, test"):
        load_settings({"KAOHE_ENV": "staging"})


@pytest.fixture
def restore_logging() -> object:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield None
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def test_production_logs_are_json_lines_including_stdlib(restore_logging: object) -> None:
    out = io.StringIO()
    configure_logging(production=True, stream=out)
    structlog.get_logger("kaohe.test").info("run stored", run_id=7, unit="东岭县")
    logging.getLogger("werkzeug").warning("request %s", "GET /")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[0]["event"] == "run stored" and lines[0]["run_id"] == 7
    assert lines[0]["unit"] == "东岭县" and lines[0]["level"] == "info"
    assert lines[1]["event"] == "request GET /" and lines[1]["logger"] == "werkzeug"
    assert all("timestamp" in line for line in lines)


def test_development_logs_are_readable_console_lines(restore_logging: object) -> None:
    out = io.StringIO()
    configure_logging(production=False, stream=out)
    structlog.get_logger("kaohe.test").info("hello", n=1)
    text = out.getvalue()
    assert "hello" in text and "n=1" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])
