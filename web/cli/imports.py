"""``kaohe import`` and ``kaohe template``: loading spreadsheets, and the blank workbook for them."""

from __future__ import annotations

from pathlib import Path

import click

from web.cli.support import AppContext
from workflows.imports import ImportRejected, import_file
from workflows.imports.sheets import KIND_ORDER
from workflows.imports.template import write_template


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(KIND_ORDER),
              help="Kind of a CSV file's rows (default: recognised from its header).")
@click.pass_obj
def import_command(app: AppContext, file: Path, kind: str | None) -> None:
    """Import FILE (.xlsx or .csv) in one transaction: all of it, or nothing if any row is wrong."""
    app.prove("import")
    try:
        with app.transaction() as session:
            summary = import_file(session, file, kind, actor=app.settings.actor)
    except ImportRejected as exc:
        for issue in exc.errors:
            click.echo(str(issue), err=True)
        click.echo(f"{len(exc.errors)} error(s): nothing was imported", err=True)
        raise SystemExit(1) from None
    click.echo(str(summary))


@click.command("template")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path), default="kaohe-template.xlsx")
def template_command(out: Path) -> None:
    """Write a blank import workbook to OUT: one sheet per kind, one header row each."""
    write_template(out)
    click.echo(f"wrote {out}")
