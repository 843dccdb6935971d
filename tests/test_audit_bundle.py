"""Export bundles: a clean bundle verifies without a database; every kind of tampering is named."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

import audit
from audit.bundle import MANIFEST, BundleFiles, jsonl_lines, parse_time
from audit.bundle_verify import Replayed, verify_bundle
from audit.chain import hash_input
from audit.export import ExportError, export_run
from audit.note import generate
from audit.note import sign as note_sign
from engine import load_pack, pack_document
from engine.values.canonical import canonical_json
from tests.cli_support import cli_runner
from tests.test_runs import PACK, _demo_with_pack
from web.cli.audit import _replayer
from web.cli.main import main
from workflows.runs import create_run


def _rehash(folder: Path) -> None:
    """Update the manifest's file entries, as a forger who rewrote a file would."""
    manifest = json.loads((folder / MANIFEST).read_bytes())
    for name in manifest["files"]:
        data = (folder / name).read_bytes()
        manifest["files"][name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (folder / MANIFEST).write_bytes(canonical_json(manifest))


def _edit_lines(name: str, change: Callable[[list[bytes]], list[bytes]]) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        lines = change(jsonl_lines((folder / name).read_bytes()))
        (folder / name).write_bytes(b"".join(line + b"\n" for line in lines))
    return edit


def _edit_json_line(name: str, index: int, key: str, value: object) -> Callable[[Path], None]:
    def change(lines: list[bytes]) -> list[bytes]:
        row = json.loads(lines[index])
        row[key] = value
        lines[index] = canonical_json(row)
        return lines
    return _edit_lines(name, change)


def _swap_codes(lines: list[bytes]) -> list[bytes]:
    a, b = json.loads(lines[0]), json.loads(lines[1])
    a["code"], b["code"] = b["code"], a["code"]
    return [canonical_json(a), canonical_json(b), *lines[2:]]


def _replace(name: str, old: bytes, new: bytes) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        data = (folder / name).read_bytes()
        assert old in data
        (folder / name).write_bytes(data.replace(old, new, 1))
    return edit


def _manifest_member(key: str, value: object) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        manifest = json.loads((folder / MANIFEST).read_bytes())
        manifest["run"][key] = value
        (folder / MANIFEST).write_bytes(canonical_json(manifest))
    return edit


KEY = generate("kaohe.test/ledger")
"""The instance's signing key in these tests; every bundle's checkpoint is signed with it."""
TRUSTED = [KEY.verifier]

_BUILT: dict[str, Path] = {}
"""The clean bundle per test database template: the demo year is slow to load, the copy is not."""


@pytest.fixture
def bundle_dir(request: pytest.FixtureRequest, template_url: str, tmp_path: Path,
               tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo year's run, with later events about it, exported to a directory (a fresh copy)."""
    if template_url not in _BUILT:
        session: Session = request.getfixturevalue("session")
        _demo_with_pack(session)
        run = create_run(session, "DEMO-2024", "2024", actor="office.li").run
        audit.record(session, actor="auditor.chen", action="run.review", subject_type="note",
                     subject_id="1", payload={"run_id": run.id, "note": "抽查"})
        audit.record(session, actor="x", action="auth.login", subject_type="user", subject_id="x",
                     payload={})
        audit.record(session, actor="auditor.chen", action="run.review", subject_type="note",
                     subject_id="2", payload={"detail": {"run_id": run.id}})
        bundle = export_run(session, run.id, pack_document=pack_document, actor="auditor.chen", signer=KEY)
        _BUILT[template_url] = tmp_path_factory.mktemp("bundle") / "clean"
        bundle.write_dir(_BUILT[template_url])
    shutil.copytree(_BUILT[template_url], tmp_path / "clean")
    return tmp_path / "clean"


def test_a_clean_bundle_verifies_as_zip_and_directory_and_replays(bundle_dir: Path, tmp_path: Path) -> None:
    manifest = json.loads((bundle_dir / MANIFEST).read_bytes())
    first = manifest["chain"]["first_seq"]  # after the demo's imports and pack events
    assert manifest["chain"]["run_event_seqs"] == [first, first + 1, first + 3]  # auth.login between
    assert manifest["chain"]["last_seq"] == first + 3
    report = verify_bundle(bundle_dir, trusted=TRUSTED, replayer=_replayer)
    assert report.ok, report.problems
    assert report.events_checked == 4 and report.score_sheets == 75 and report.replayed
    BundleFiles.read(bundle_dir).write_zip(tmp_path / "b.zip")
    assert verify_bundle(tmp_path / "b.zip", trusted=TRUSTED).ok
    again = tmp_path / "again.zip"
    BundleFiles.read(bundle_dir).write_zip(again)
    assert again.read_bytes() == (tmp_path / "b.zip").read_bytes()  # archives are deterministic


FIRST = 0
TAMPERS: dict[str, tuple[Callable[[Path], None], str, str]] = {
    "firing points": (_edit_json_line("firings.jsonl", FIRST, "points", "9"), "run_root_mismatch",
                      "firings.jsonl"),
    "firing deleted": (_edit_lines("firings.jsonl", lambda ls: ls[1:]), "run_root_mismatch",
                       "firings.jsonl"),
    "firings reordered": (_edit_lines("firings.jsonl", lambda ls: [ls[1], ls[0], *ls[2:]]),
                          "run_root_mismatch", "firings.jsonl"),
    "score sheet total": (_edit_json_line("score_sheets.jsonl", FIRST, "total", "100"),
                          "run_root_mismatch", "score_sheets.jsonl"),
    "snapshot": (_replace("snapshot.json", b'"scheme_code":"DEMO-2024"', b'"scheme_code":"DEMO-2025"'),
                 "snapshot_mismatch", "snapshot.json"),
    "pack document": (_replace("pack.json", b"demo-city-2024", b"demo-city-2025"), "pack_mismatch",
                      "pack.json"),
    "unit codes swapped": (_edit_lines("units.jsonl", _swap_codes), "run_hash_mismatch", "units.jsonl"),
    "event actor": (_edit_json_line("events.jsonl", 1, "actor", "someone.else"), "hash_mismatch",
                    "events.jsonl"),
    "event deleted": (_edit_lines("events.jsonl", lambda ls: [ls[0], *ls[2:]]), "missing_seq",
                      "events.jsonl"),
    "events reordered": (_edit_lines("events.jsonl", lambda ls: [ls[1], ls[0], *ls[2:]]), "missing_seq",
                         "events.jsonl"),
    "event relinked": (_edit_json_line("events.jsonl", 2, "prev_hash", "0" * 64), "broken_link",
                       "events.jsonl"),
    "manifest run": (_manifest_member("created_by", "mallory"), "manifest_mismatch", MANIFEST),
    "cut (replay)": (_edit_json_line("cuts.jsonl", FIRST, "after", "-77"), "replay_mismatch", "cuts.jsonl"),
    "pack text (replay)": (_replace("pack.yaml", b"honours: {cap: 5", b"honours: {cap: 6"),
                           "pack_mismatch", "pack.yaml"),
}


@pytest.mark.parametrize("name", sorted(TAMPERS))
def test_each_tampering_is_caught_and_named(bundle_dir: Path, tmp_path: Path, name: str) -> None:
    edit, kind, file = TAMPERS[name]
    bare, forged = tmp_path / "bare", tmp_path / "forged"
    shutil.copytree(bundle_dir, bare)
    edit(bare)
    if name != "manifest run":  # an edited file, manifest untouched: its listed hash gives it away
        problems = verify_bundle(bare, trusted=TRUSTED).problems
        assert [(p.kind, p.file) for p in problems] == [("file_mismatch", file)], problems
    shutil.copytree(bundle_dir, forged)
    edit(forged)
    _rehash(forged)  # the forger updates the manifest too: the ledger's hashes still catch it
    report = verify_bundle(forged, trusted=TRUSTED, replayer=_replayer)
    assert (report.problems[0].kind, report.problems[0].file) == (kind, file), report.problems


def test_missing_and_unlisted_files_and_a_bad_archive(bundle_dir: Path, tmp_path: Path) -> None:
    (bundle_dir / "cuts.jsonl").unlink()
    (bundle_dir / "extra.txt").write_text("x")
    kinds = {(p.kind, p.file) for p in verify_bundle(bundle_dir, trusted=TRUSTED).problems}
    assert kinds == {("missing_file", "cuts.jsonl"), ("unlisted_file", "extra.txt")}
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    assert verify_bundle(junk, trusted=TRUSTED).problems[0].kind == "bad_bundle"


def _rechain(folder: Path, index: int, key: str, value: str) -> None:
    """Rewrite one event and re-hash it and every later one: only an outside anchor shows it."""
    lines = jsonl_lines((folder / "events.jsonl").read_bytes())
    events = [json.loads(line) for line in lines]
    events[index][key] = value
    prev = events[0]["prev_hash"]
    for event in events:
        event["prev_hash"] = prev
        fields = {k: v for k, v in event.items() if k != "hash"}
        data = hash_input(**{**fields, "recorded_at": parse_time(event["recorded_at"])})
        event["hash"] = prev = hashlib.sha256(data).hexdigest()
    (folder / "events.jsonl").write_bytes(b"".join(canonical_json(e) + b"\n" for e in events))
    _rehash(folder)


def test_a_rebuilt_chain_fails_against_the_signed_checkpoint_and_an_anchor(bundle_dir: Path) -> None:
    events = [json.loads(line) for line in jsonl_lines((bundle_dir / "events.jsonl").read_bytes())]
    anchor = {events[-1]["seq"]: events[-1]["hash"]}
    assert verify_bundle(bundle_dir, trusted=TRUSTED, anchors=anchor).ok
    _rechain(bundle_dir, 1, "actor", "someone.else")
    problems = verify_bundle(bundle_dir, trusted=TRUSTED).problems  # consistent, but not what was signed
    assert (problems[0].kind, problems[0].file) == ("checkpoint_mismatch", "checkpoint.txt"), problems
    assert "is not the signed tree's last leaf" in problems[0].detail
    # The forger signs the rebuilt chain with a key of their own: not a trusted one.
    forger = generate("kaohe.test/ledger")
    (bundle_dir / "checkpoint.txt").write_text(
        note_sign(f"kaohe.test/ledger\n{events[-1]['seq']}\n{'A' * 43}=\n", forger), encoding="utf-8")
    _rehash(bundle_dir)
    refused = verify_bundle(bundle_dir, trusted=TRUSTED).problems
    assert refused[0].kind == "checkpoint_refused" and "signed by no trusted key" in refused[0].detail
    problems = verify_bundle(bundle_dir, trusted=TRUSTED, anchors=anchor).problems  # … nor the published head
    assert problems[0].kind == "anchor_mismatch"
    outside = verify_bundle(bundle_dir, trusted=TRUSTED, anchors={1: "0" * 64}).problems
    assert outside[0].kind == "anchor_mismatch" and "outside" in outside[0].detail


def test_a_replay_that_differs_names_the_firings(bundle_dir: Path) -> None:
    def drifted(pack_text: str, snapshot_text: str) -> Replayed:
        real = _replayer(pack_text, snapshot_text)
        firings = [dict(f) for f in real.firings]
        firings[0]["points"] = "42"
        return Replayed(real.pack_sha256, "f" * 64, firings, real.sheets, real.cuts)

    problems = verify_bundle(bundle_dir, trusted=TRUSTED, replayer=drifted).problems
    assert problems[0].kind == "replay_mismatch" and "firing 1 differs" in problems[0].detail


def test_the_pack_document_hashes_to_the_packs_sha256() -> None:
    text = PACK.read_text(encoding="utf-8")
    assert hashlib.sha256(pack_document(text, PACK.name)).hexdigest() == load_pack(text, PACK.name).sha256


def test_export_refuses_a_run_that_is_not_there(session: Session) -> None:
    with pytest.raises(ExportError, match="no run 99"):
        export_run(session, 99, pack_document=pack_document, actor="x", signer=KEY)


def test_cli_export_and_verify_bundle(fresh_url: str, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    with cli_runner(fresh_url, tmp_path, monkeypatch) as runner:
        assert runner.invoke(main, ["demo", "--no-serve"]).exit_code == 0  # approves the pack
        run_id = json.loads(runner.invoke(main, ["run", "DEMO-2024", "2024", "--json"]).output)["run_id"]
        out, kept = tmp_path / "run.zip", tmp_path / "kept.txt"
        assert runner.invoke(main, ["audit", "checkpoint", "--output", str(kept)]).exit_code == 0
        exported = runner.invoke(main, ["audit", "export", str(run_id), "--out", str(out)])
        assert exported.exit_code == 0, exported.output
        checked = runner.invoke(main, ["audit", "verify-bundle", str(out), "--replay",
                                       "--checkpoint", str(kept)],
                                env={"KAOHE_DATABASE_URL": "sqlite:////nonexistent/none.db"})
        assert checked.exit_code == 0, checked.output
        assert "OK: run" in checked.output and "replay identical" in checked.output
        stranger = runner.invoke(main, ["audit", "verify-bundle", str(out), "--key", KEY.verifier.text])
        assert stranger.exit_code == 1
        assert "BROKEN: checkpoint_refused in checkpoint.txt: checkpoint refused: signed by no trusted key" \
            in stranger.output
        folder = tmp_path / "dir"
        to_dir = ["audit", "export", str(run_id), "--out", str(folder), "--dir"]
        assert runner.invoke(main, to_dir).exit_code == 0
        _edit_json_line("firings.jsonl", 0, "points", "9")(folder)
        broken = runner.invoke(main, ["audit", "verify-bundle", str(folder), "--json"])
        assert broken.exit_code == 1
        assert json.loads(broken.output)["problems"][0]["kind"] == "file_mismatch"
        missing = runner.invoke(main, ["audit", "export", "999"])
        assert missing.exit_code == 1 and "no run 999" in missing.output
