"""Running ``kaohe`` commands in tests against the test database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

import web.cli.support
from store import make_engine


@contextmanager
def cli_runner(database_url: str, instance_path: Path, monkeypatch: pytest.MonkeyPatch,
               env: str = "development") -> Iterator[CliRunner]:
    """A CliRunner whose commands use ``database_url``; the engines they make are disposed after.

    A development instance by default, where ``KAOHE_ACTOR`` alone names who acts (as in the demo);
    ``env="test"`` makes every decision need the actor's token or password, as in production."""
    made: list[Engine] = []

    def tracked_engine(url: str, **kwargs: Any) -> Engine:
        made.append(make_engine(url, **kwargs))
        return made[-1]

    monkeypatch.setattr(web.cli.support, "make_engine", tracked_engine)
    try:
        yield CliRunner(env={"KAOHE_DATABASE_URL": database_url,
                             "KAOHE_INSTANCE_PATH": str(instance_path), "KAOHE_ENV": env})
    finally:
        for engine in made:
            engine.dispose()
