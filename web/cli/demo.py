"""``kaohe demo``: migrate the database and load the demo city (江澄市, scheme DEMO-2024)."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import Engine, func, select

from store import Base
from store import migrate as store_migrate
from web.cli.support import AppContext, fail, serve_app
from workflows.demo import DEMO_SCHEME_CODE, demo_loaded, load_demo
from workflows.demo_web import DEMO_ACCOUNTS, prepare_demo_web
from workflows.errors import DomainError
from workflows.imports import ImportRejected

# The demo files live in the repository, beside the packages: demo/city (see demo/README.md).
DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"


def table_counts(engine: Engine) -> list[tuple[str, int]]:
    """Rows per table of the data model, in dependency order."""
    counts = []
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            counts.append((table.name, conn.scalar(select(func.count()).select_from(table)) or 0))
    return counts


def explore_hint(engine: Engine) -> str:
    if engine.url.get_backend_name() == "sqlite" and engine.url.database:
        return f"sqlite3 {engine.url.database}"
    return f"psql '{engine.url.render_as_string(hide_password=True)}'"


@click.command("demo")
@click.option("--no-serve", is_flag=True, help="Only migrate and load the data; do not serve the web app.")
@click.option("--host", default=None, help="Address to serve on (default 127.0.0.1).")
@click.option("--port", default=None, type=click.IntRange(1, 65535), help="Port to serve on (default 5000).")
@click.pass_obj
def demo(app: AppContext, no_serve: bool, host: str | None, port: int | None) -> None:
    """Migrate the database, load the demo city 江澄市 (scheme DEMO-2024), and serve the web app.

    Loading is one transaction through the same importer as `kaohe import`; if the scheme
    DEMO-2024 is already there, nothing is imported again. The demo's rule pack is approved, the
    third quarter and the year are run, and one account per role is created (each only once).
    """
    if not app.settings.trusts_named_actor:
        fail(f"the demo acts under fixed names and creates accounts with published passwords: it runs "
             f"only on a development instance (KAOHE_ENV=development), not {app.settings.env}; "
             "nothing was done")
    engine = app.engine
    url = engine.url.render_as_string(hide_password=True)
    store_migrate.upgrade(engine)
    click.echo(f"database migrated: {url}")
    city = DEMO_DIR / "city"
    try:
        with app.transaction() as session:
            if demo_loaded(session):
                click.echo(f"the demo scheme {DEMO_SCHEME_CODE} is already loaded: nothing imported")
            else:
                click.echo(f"loading the demo city 江澄市 ({DEMO_SCHEME_CODE}) from {city}")
                for summary in load_demo(session, city):
                    click.echo(str(summary))
    except ImportRejected as exc:
        click.echo(str(exc), err=True)
        raise click.ClickException("the demo files were refused by the importer; nothing was loaded") \
            from exc
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        with app.transaction() as session:
            for line in prepare_demo_web(session, actor=app.settings.actor):
                click.echo(line)
    except DomainError as exc:
        raise click.ClickException(f"the demo's runs or accounts could not be made: {exc}") from exc

    click.echo(f"\nThe data is in {url}")
    for name, count in table_counts(engine):
        click.echo(f"  {name:<16} {count:>6}")
    click.echo("\nExplore it:")
    click.echo(f"  {explore_hint(engine)}")
    click.echo(f"  the story, units, indicators and special cases: {DEMO_DIR / 'README.md'}")
    click.echo("  kaohe import --help      import your own workbooks and CSV files")
    click.echo("  kaohe template --help    an empty workbook in the import format")
    host = host or app.settings.host
    port = port or app.settings.port
    click.echo(f"\nThe web app: http://{host}:{port}/  (`kaohe serve` serves it again later)")
    click.echo("Demo accounts, one per role (demo passwords: for this demo database only):")
    for a in DEMO_ACCOUNTS:
        scope = f"  units {', '.join(a.units)}" if a.units else ""
        click.echo(f"  {a.role:<10} {a.username:<10} {a.password:<22} {a.display_name}{scope}")
    if not no_serve:
        serve_app(app, host, port)
