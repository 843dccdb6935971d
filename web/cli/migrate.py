"""``kaohe migrate``: the database schema created or upgraded to the latest migration."""

from __future__ import annotations

import click

from store import migrate as store_migrate
from web.cli.support import AppContext, pass_app


@click.command()
@pass_app
def migrate(app: AppContext) -> None:
    """Create or upgrade the database schema to the latest migration."""
    store_migrate.upgrade(app.engine)
    click.echo(f"database migrated: {app.engine.url.render_as_string(hide_password=True)}")
