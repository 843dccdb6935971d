"""The ``kaohe`` command line: the click group, and every command added to it here, in one place.

Each command lives in a module of this package named for what it works on and imports only
:mod:`web.cli.support` (never this module or another command's), so there is no import circle.
Each command owns its transaction: it commits or rolls back.
"""

from __future__ import annotations

from pathlib import Path

import click

from web.cli.audit import audit_group
from web.cli.cases import appeal_group, case_group, publish_command, seal_command
from web.cli.demo import demo
from web.cli.identity import Credentials
from web.cli.imports import import_command, template_command
from web.cli.migrate import migrate
from web.cli.runs import explain_command, pack_group, replay_command, run_command
from web.cli.scheme import report_command, scheme_group
from web.cli.serve import serve
from web.cli.support import AppContext
from web.cli.users import token_group, user_group
from web.cli.year import notice_group, target_group, verify_group
from web.config import load_settings
from web.log import configure_logging


@click.group()
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path),
              help="A file holding your API token (`kaohe token issue`): proves who acts.")
@click.option("--password-stdin", is_flag=True,
              help="Read your password (the account KAOHE_ACTOR names) from stdin's first line.")
@click.pass_context
def main(ctx: click.Context, token_file: Path | None, password_stdin: bool) -> None:
    """Kaohe (考核): target-responsibility assessment — rules, workflows, audit.

    \b
    Who acts: a command that decides or proposes (review, approve, publish, seal, ...) needs your
    own credential unless KAOHE_ENV=development: your API token (KAOHE_TOKEN, or --token-file),
    or your password (asked at a terminal, or --password-stdin) for the account KAOHE_ACTOR names.
    The ledger records how you were authenticated.
    """
    settings = load_settings()
    configure_logging(production=settings.is_production, level=settings.log_level)
    ctx.obj = AppContext(settings)
    ctx.obj.credentials = Credentials(token_file, password_stdin)
    ctx.call_on_close(ctx.obj.close)


for command in (
    migrate,
    import_command, template_command,
    audit_group,
    demo,
    pack_group, run_command, explain_command, replay_command,
    serve, user_group, token_group,
    case_group, publish_command, appeal_group, seal_command,
    target_group, verify_group, notice_group,
    scheme_group, report_command,
):
    main.add_command(command)
