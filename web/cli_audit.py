"""``kaohe audit``: checking the hash-chained ledger from the command line."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import click

from audit import verify as verify_ledger

if TYPE_CHECKING:
    from web.cli import AppContext


@click.group("audit")
def audit_group() -> None:
    """The audit ledger: who did what, when, and proof that nobody changed it since."""


def _parse_anchors(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> dict[int, str]:
    anchors: dict[int, str] = {}
    for value in values:
        seq, _, hash_ = value.partition(":")
        if not (seq.isdigit() and int(seq) >= 1 and re.fullmatch(r"[0-9a-f]{64}", hash_)):
            raise click.BadParameter(f"{value!r} is not SEQ:HASH (a seq ≥ 1, 64 lowercase hex)")
        anchors[int(seq)] = hash_
    return anchors


@audit_group.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("--anchor", "anchors", multiple=True, callback=_parse_anchors, metavar="SEQ:HASH",
              help="A head kept outside the database (from an earlier report); may repeat.")
@click.pass_obj
def verify_command(app: AppContext, as_json: bool, anchors: dict[int, str]) -> None:
    """Check every event's hash and link and every run's stored results; exit 1 at the first break."""
    with app.transaction() as session:
        report = verify_ledger(session, anchors=anchors)
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, sort_keys=True))
    elif report.first_break is None:
        click.echo(f"OK: {report.events_checked} events and {report.runs_checked} runs verified; "
                   f"head {report.head_seq} {report.head_hash}")
    else:
        brk = report.first_break
        click.echo(f"BROKEN at event {brk.seq} ({brk.kind}): {brk.detail}", err=True)
        click.echo(f"{report.events_checked} events before it verified; "
                   f"last good event {report.head_seq} {report.head_hash}", err=True)
    if not report.ok:
        raise SystemExit(1)
