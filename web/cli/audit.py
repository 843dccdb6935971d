"""``kaohe audit``: checking the hash-chained ledger from the command line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click

from audit import adopt as adopt_rows
from audit import verify as verify_ledger
from audit.bundle_verify import Replayed, verify_bundle
from audit.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from audit.export import ExportError, export_run
from audit.note import NoteError, VerifierKey, generate, parse_verifier
from engine import Snapshot, evaluate, load_pack, pack_document
from engine.values.canonical import to_plain
from web.cli.support import AppContext, fail, transaction_or_exit
from web.signing import verifier_keys, write_key
from workflows.checkpoints import anchoring_report, on_demand


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
@click.option("--checkpoint", "held", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="A signed checkpoint kept outside the database: the ledger must extend it; may repeat.")
@click.pass_obj
def verify_command(app: AppContext, as_json: bool, anchors: dict[int, str], held: tuple[Path, ...]) -> None:
    """Check every event's hash and link and every run's stored results; exit 1 at the first break.
    Then every checkpoint, stored or held elsewhere, against the ledger."""
    with app.transaction() as session:
        report = verify_ledger(session, anchors=anchors)
        notes = [(str(path), path.read_text(encoding="utf-8")) for path in held]
        anchored = anchoring_report(session, verifier_keys(app.settings), notes) if report.ok else None
    if as_json:
        click.echo(json.dumps({**report.as_dict(), **(anchored.as_dict() if anchored else {})},
                              ensure_ascii=False, sort_keys=True))
    elif report.first_break is None:
        click.echo(f"OK: {report.events_checked} events and {report.runs_checked} runs verified, "
                   f"{report.rows_checked} rows as the ledger bound them; "
                   f"head {report.head_seq} {report.head_hash}")
    elif report.first_break.table is not None:
        brk = report.first_break
        click.echo(f"BROKEN: {brk.table} {brk.row} ({brk.kind}): {brk.detail}", err=True)
        click.echo(f"the chain itself verified: {report.events_checked} events, "
                   f"head {report.head_seq} {report.head_hash}", err=True)
    else:
        brk = report.first_break
        click.echo(f"BROKEN at event {brk.seq} ({brk.kind}): {brk.detail}", err=True)
        click.echo(f"{report.events_checked} events before it verified; "
                   f"last good event {report.head_seq} {report.head_hash}", err=True)
    if anchored is not None and not as_json:
        for line in anchored.lines:
            click.echo(line)
        for line in anchored.problems:
            click.echo(f"BROKEN: {line}", err=True)
    if not report.ok or (anchored is not None and anchored.problems):
        raise SystemExit(1)


def _parse_keys(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> list[VerifierKey]:
    try:
        return [parse_verifier(value) for value in values]
    except NoteError as exc:
        raise click.BadParameter(str(exc)) from None


def _held_checkpoint(path: Path, trusted: list[VerifierKey]) -> Checkpoint:
    try:
        return open_checkpoint(path.read_text(encoding="utf-8"), trusted)
    except (CheckpointError, UnicodeDecodeError) as exc:
        fail(f"{path}: {exc}")


@audit_group.command("keygen")
@click.option("--output", type=click.Path(path_type=Path), required=True,
              help="The private key file to write (owner-only; never over an existing file).")
@click.option("--name", required=True, metavar="ORIGIN",
              help="The log's name, a schema-less URL such as kaohe.example.gov.cn/ledger; "
                   "keep it when rotating the key.")
def keygen_command(output: Path, name: str) -> None:
    """Make an Ed25519 key for signing the ledger's checkpoints; print its verifier key to publish."""
    try:
        key = generate(name)
        write_key(output, key)
    except NoteError as exc:
        fail(str(exc))
    except FileExistsError:
        fail(f"{output} exists: a signing key is never overwritten; choose another path")
    except OSError as exc:
        fail(f"{output} cannot be written: {exc}")
    click.echo(f"signing key written to {output} (mode 600); set KAOHE_SIGNING_KEY={output}")
    click.echo("verifier key (publish it; keep the old ones in KAOHE_VERIFIER_KEYS after a rotation):")
    click.echo(key.verifier.text)


@audit_group.command("key")
@click.pass_obj
def key_command(app: AppContext) -> None:
    """Print the verifier keys checkpoints are checked with: this instance's first, then earlier ones."""
    for key in verifier_keys(app.settings):
        click.echo(key.text)


@audit_group.command("checkpoint")
@click.option("--output", type=click.Path(path_type=Path), required=True,
              help="Where to write the signed checkpoint (keep it outside the database; '-' prints it).")
@click.pass_obj
def checkpoint_command(app: AppContext, output: Path) -> None:
    """Sign a checkpoint of the ledger as it stands (C2SP tlog-checkpoint, docs/audit-format.md §6)."""
    with transaction_or_exit(app) as session:
        row = on_demand(session, app.signing_key, actor=app.settings.actor)
        note, size, name, key_id = row.note, row.tree_size, row.key_name, row.key_id
    if str(output) == "-":
        click.echo(note, nl=False)
        return
    output.write_text(note, encoding="utf-8")
    click.echo(f"checkpoint of {size} events signed by {name} ({key_id}) written to {output}")


@audit_group.command("adopt")
@click.pass_obj
def adopt_command(app: AppContext) -> None:
    """Bind every row no event bound yet (once, after upgrading a database whose rows predate
    row bindings, or after a bulk load); refused if a bound row was changed or deleted."""
    app.prove("rows.adopt")  # binding rows as found is a decision: by a proven person
    try:
        with app.transaction() as session:
            events = adopt_rows(session, actor=app.settings.actor)
    except ValueError as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(1) from None
    rows = sum(len(rows) for e in events for rows in json.loads(e.payload)["tables"].values())
    if not events:
        click.echo("nothing to adopt: every stored row is bound already")
    else:
        click.echo(f"adopted {rows} rows in events {events[0].seq}–{events[-1].seq} "
                   f"as {app.settings.actor}")


@audit_group.command("export")
@click.argument("run_id", type=int)
@click.option("--out", type=click.Path(path_type=Path), help="Bundle path (default run-RUN.kaohe.zip).")
@click.option("--dir", "as_dir", is_flag=True, help="Write the files into a directory, not a zip.")
@click.pass_obj
def export_command(app: AppContext, run_id: int, out: Path | None, as_dir: bool) -> None:
    """Write RUN_ID's self-contained bundle (docs/audit-format.md §5) for verify-bundle."""
    target = out or Path(f"run-{run_id}.kaohe" + ("" if as_dir else ".zip"))
    try:
        with app.transaction() as session:
            bundle = export_run(session, run_id, pack_document=pack_document, actor=app.settings.actor,
                                signer=app.signing_key)
    except ExportError as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(1) from None
    if as_dir:
        bundle.write_dir(target)
    else:
        bundle.write_zip(target)
    chain = json.loads(bundle.files["manifest.json"])["chain"]
    click.echo(f"run {run_id} exported to {target}: events {chain['first_seq']}–{chain['last_seq']}, "
               f"run.create at event {chain['run_create_seq']}")


def _replayer(pack_text: str, snapshot_text: str) -> Replayed:
    """The engine, handed to the database-free verifier (audit never imports evaluation)."""
    pack = load_pack(pack_text, "pack.yaml")
    result = evaluate(pack, Snapshot.from_json(snapshot_text))
    return Replayed(pack.sha256, result.run_hash, [to_plain(f) for f in result.firings],
                    [to_plain(s) for s in result.sheets], [to_plain(c) for c in result.cuts])


@audit_group.command("verify-bundle")
@click.argument("bundle", type=click.Path(exists=True, path_type=Path))
@click.option("--replay", is_flag=True, help="Also re-evaluate the snapshot under the pack and compare.")
@click.option("--anchor", "anchors", multiple=True, callback=_parse_anchors, metavar="SEQ:HASH",
              help="An event hash known from elsewhere (a published head); may repeat.")
@click.option("--key", "keys", multiple=True, callback=_parse_keys, metavar="VERIFIER_KEY",
              help="A verifier key the checkpoint may be signed by (default: this instance's); may repeat.")
@click.option("--checkpoint", "held", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="A signed checkpoint kept elsewhere that the bundle's must extend; may repeat.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.pass_obj
def verify_bundle_command(app: AppContext, bundle: Path, replay: bool, anchors: dict[int, str],
                          keys: list[VerifierKey], held: tuple[Path, ...], as_json: bool) -> None:
    """Check an export BUNDLE (zip or directory) without a database; exit 1 naming each problem."""
    trusted = keys or verifier_keys(app.settings)
    kept = [_held_checkpoint(path, trusted) for path in held]
    report = verify_bundle(bundle, trusted=trusted, held=kept,
                           replayer=_replayer if replay else None, anchors=anchors)
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, sort_keys=True))
    elif report.ok:
        click.echo(f"OK: run {report.run_id}: {report.events_checked} events, {report.firings} firings, "
                   f"{report.score_sheets} score sheets verified"
                   + (", replay identical" if report.replayed else ""))
    else:
        for problem in report.problems:
            click.echo(f"BROKEN: {problem}", err=True)
    if not report.ok:
        raise SystemExit(1)
