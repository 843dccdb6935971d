"""The ``kaohe`` command line. Each command owns its transaction: it commits or rolls back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
import structlog
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from store import make_engine, make_session_factory
from store import migrate as store_migrate
from web.config import Settings, load_settings
from web.log import configure_logging

log = structlog.get_logger("kaohe.cli")


class AppContext:
    """Settings and a lazily made engine, shared by the commands of one invocation."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engine: Engine | None = None

    def close(self) -> None:
        """Dispose of the engine's pool when the command ends (no connection outlives it)."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            if self.settings.database_url.startswith("sqlite:///"):
                self.settings.instance_path.mkdir(parents=True, exist_ok=True)
            self._engine = make_engine(self.settings.database_url)
        return self._engine

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit when the block ends normally, roll back on any exception."""
        factory = make_session_factory(self.engine)
        with factory() as session, session.begin():
            yield session


pass_app = click.make_pass_decorator(AppContext)


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Kaohe (考核): target-responsibility assessment — rules, workflows, audit."""
    settings = load_settings()
    configure_logging(production=settings.is_production, level=settings.log_level)
    ctx.obj = AppContext(settings)
    ctx.call_on_close(ctx.obj.close)


@main.command()
@pass_app
def migrate(app: AppContext) -> None:
    """Create or upgrade the database schema to the latest migration."""
    store_migrate.upgrade(app.engine)
    click.echo(f"database migrated: {app.engine.url.render_as_string(hide_password=True)}")


from web.cli_imports import import_command, template_command  # noqa: E402

main.add_command(import_command)
main.add_command(template_command)


from web.cli_audit import audit_group  # noqa: E402

main.add_command(audit_group)


from web.cli_demo import demo  # noqa: E402

main.add_command(demo)


from web.cli_runs import explain_command, pack_group, replay_command, run_command  # noqa: E402

main.add_command(pack_group)
main.add_command(run_command)
main.add_command(explain_command)
main.add_command(replay_command)


from web.cli_serve import serve  # noqa: E402
from web.cli_users import token_group, user_group  # noqa: E402

main.add_command(serve)
main.add_command(user_group)
main.add_command(token_group)


from web.cli_cases import appeal_group, case_group, publish_command, seal_command  # noqa: E402

main.add_command(case_group)
main.add_command(publish_command)
main.add_command(appeal_group)
main.add_command(seal_command)


from web.cli_year import notice_group, target_group, verify_group  # noqa: E402

main.add_command(target_group)
main.add_command(verify_group)
main.add_command(notice_group)
