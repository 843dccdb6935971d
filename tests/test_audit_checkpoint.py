"""Signed checkpoints of the ledger: RFC 6962 proofs (Certificate Transparency's vectors), C2SP
signed notes, the worked example of docs/audit-format.md §6, and a ledger cut at its tail or
rewritten whole caught against a checkpoint kept elsewhere (on the backend under test)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import re
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

import audit
from audit import tlog
from audit.chain import hash_input
from audit.checkpoint import (
    CheckpointError,
    TreeHead,
    check_extends,
    ledger_tree,
    open_checkpoint,
    sign_ledger,
)
from audit.merkle import leaf_hash
from audit.note import NoteError, SignerKey, generate, open_note, parse_signer, parse_verifier, sign
from store import AuditEvent, LedgerCheckpoint
from tests.audit_support import record_events, tamper
from tests.cli_support import cli_runner
from web.cli.main import main
from web.config import ConfigError, load_settings
from workflows.checkpoints import anchoring_report, on_demand
from workflows.errors import Conflict

DOC = Path(__file__).resolve().parents[1] / "docs" / "audit-format.md"
CT_LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                        "606162636465666768696a6b6c6d6e6f")]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_CONSISTENCY = {
    (1, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (6, 8): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 5): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
}
CT_INCLUSION = {
    (0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 3): ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    (1, 5): ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
}
KEY = generate("kaohe.test/ledger")


def _hex(hashes: list[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


def test_rfc6962_roots_and_proofs_are_certificate_transparencys() -> None:
    leaves = [leaf_hash(d) for d in CT_LEAVES]
    assert [tlog.root(leaves[:n]).hex() for n in range(1, 9)] == CT_ROOTS
    for (m, n), proof in CT_CONSISTENCY.items():
        assert _hex(tlog.consistency_proof(m, leaves[:n])) == proof
        tlog.verify_consistency(m, n, [bytes.fromhex(p) for p in proof], bytes.fromhex(CT_ROOTS[m - 1]),
                                bytes.fromhex(CT_ROOTS[n - 1]))
    for (i, n), proof in CT_INCLUSION.items():
        assert _hex(tlog.inclusion_proof(i, leaves[:n])) == proof
        tlog.verify_inclusion(leaves[i], i, n, [bytes.fromhex(p) for p in proof],
                              bytes.fromhex(CT_ROOTS[n - 1]))


def test_every_proof_of_small_trees_verifies_and_any_changed_hash_fails() -> None:
    leaves = [leaf_hash(bytes([i])) for i in range(13)]
    for n in range(1, 14):
        new_root = tlog.root(leaves[:n])
        for m in range(1, n + 1):
            proof = tlog.consistency_proof(m, leaves[:n])
            tlog.verify_consistency(m, n, proof, tlog.root(leaves[:m]), new_root)
            if m < n:
                with pytest.raises(tlog.ProofError):
                    tlog.verify_consistency(m, n, proof, leaf_hash(b"forged"), new_root)
                for k in range(len(proof)):
                    bent = [*proof[:k], leaf_hash(b"x"), *proof[k + 1:]]
                    with pytest.raises(tlog.ProofError):
                        tlog.verify_consistency(m, n, bent, tlog.root(leaves[:m]), new_root)
        for i in range(n):
            proof = tlog.inclusion_proof(i, leaves[:n])
            tlog.verify_inclusion(leaves[i], i, n, proof, new_root)
            with pytest.raises(tlog.ProofError):
                tlog.verify_inclusion(leaf_hash(b"other"), i, n, proof, new_root)


def test_a_large_trees_kept_subtrees_give_the_same_roots_and_proofs() -> None:
    """Past 2^8 leaves :class:`tlog.Tree` reuses the subtrees it made: the same bytes as computing
    every one afresh (:func:`tlog.root`), at the sizes around the levels it keeps."""
    leaves = [leaf_hash(i.to_bytes(2, "big")) for i in range(1100)]
    tree = tlog.Tree(leaves)
    for m in (0, 1, 255, 256, 257, 511, 512, 513, 768, 1023, 1024, 1025, 1099, 1100):
        assert tree.root(m) == tlog.root(leaves[:m])
        tlog.verify_consistency(m, 1100, tree.consistency_proof(m), tlog.root(leaves[:m]), tree.root())
    for i in (0, 255, 256, 700, 1099):
        tlog.verify_inclusion(leaves[i], i, 1100, tree.inclusion_proof(i), tlog.root(leaves))


def test_a_signed_note_opens_only_with_its_key_and_unchanged() -> None:
    note = sign("kaohe.test/ledger\n3\n" + "A" * 43 + "=\n", KEY)
    assert open_note(note, [KEY.verifier]).key == KEY.verifier
    public = KEY.verifier.public
    assert KEY.verifier.key_id == hashlib.sha256(b"kaohe.test/ledger\n\x01" + public).digest()[:4]
    assert parse_verifier(KEY.verifier.text) == KEY.verifier and parse_signer(KEY.text) == KEY
    with pytest.raises(NoteError, match="does not verify: the note was changed or forged"):
        open_note(note.replace("\n3\n", "\n4\n"), [KEY.verifier])
    other = generate("kaohe.test/ledger")  # same name, another key: its id differs, so it is unknown
    with pytest.raises(NoteError, match="signed by no trusted key"):
        open_note(note, [other.verifier])
    with pytest.raises(NoteError, match="no space and no '\\+'"):
        generate("kaohe test")
    with pytest.raises(NoteError, match="key id 00000000 is not"):
        parse_verifier(KEY.verifier.text.replace(KEY.verifier.key_id.hex(), "00000000"))


def _doc_block(after: str) -> str:
    """The first fenced block of docs/audit-format.md after the line ``after``."""
    doc = DOC.read_text(encoding="utf-8")
    found = re.search(re.escape(after) + r".*?\n```\n(.*?)```\n", doc, re.S)
    assert found, f"no block after {after!r} in {DOC.name}"
    return found.group(1)


def test_the_documented_example_checkpoint_is_what_the_code_signs() -> None:
    key = SignerKey("kaohe.example/ledger", bytes(range(32)))
    events = ["4987aaada4378e8759ddd772fb8e91370bfc389b3baf40cf615bb80374f0318f",
              "3a24b2ac8a8624a19b0c94c22a9b0587b1757b8555bfe339f5e549dfa5bfff89"]  # §2's example
    leaves = [leaf_hash(bytes.fromhex(h)) for h in events]
    note = sign(TreeHead(key.name, 2, tlog.root(leaves)).text, key)
    assert _doc_block("Its checkpoint, signed with this key:") == note
    assert _doc_block("The example key:") == f"{key.text}\n{key.verifier.text}\n"
    doc = DOC.read_text(encoding="utf-8")
    for value in (leaves[0].hex(), leaves[1].hex(), tlog.root(leaves).hex(), key.verifier.key_id.hex()):
        assert value in doc
    assert open_checkpoint(note, [key.verifier]).head.size == 2
    assert base64.b64decode(note.split("\n")[2]) == tlog.root(leaves)


def _rewrite(session: Session, start: int, actor: str) -> None:
    """Rewrite every event from ``start`` with another actor and rehash the chain from there on,
    consistently: no check inside the database can tell."""
    rows = session.execute(select(AuditEvent).where(AuditEvent.seq >= start - 1).order_by(AuditEvent.seq)
                           .execution_options(populate_existing=True)).scalars().all()
    prev = rows[0].hash if start > 1 else audit.GENESIS_HASH
    for row in rows if start == 1 else rows[1:]:
        data = hash_input(seq=row.seq, recorded_at=row.recorded_at, actor=actor, action=row.action,
                          subject_type=row.subject_type, subject_id=row.subject_id, payload=row.payload,
                          prev_hash=prev)
        new = hashlib.sha256(data).hexdigest()
        tamper(session, "audit_event", "UPDATE audit_event SET actor = :a, prev_hash = :p, hash = :h "
               "WHERE seq = :s", a=actor, p=prev, h=new, s=row.seq)
        prev = new


def test_a_cut_tail_and_a_rewritten_chain_fail_against_a_checkpoint_kept_elsewhere(session: Session) -> None:
    record_events(session, 6)
    kept = sign_ledger(session, KEY, reason="demand", actor="auditor").note  # e.g. printed on 公示
    record_events(session, 3, start=7)
    assert anchoring_report(session, [KEY.verifier], [("kept", kept)]).problems == []

    with session.begin_nested() as cut:
        tamper(session, "audit_event", "DELETE FROM audit_event WHERE seq > 4")
        assert audit.verify(session).ok  # the chain that is left is intact …
        report = anchoring_report(session, [KEY.verifier], [("kept", kept)])
        assert report.problems == [
            "kept: checkpoint kept covers 6 events but the ledger has only 4: events 5–6 were deleted "
            "from its end",
            "stored checkpoint 1: checkpoint 1 covers 6 events but the ledger has only 4: events 5–6 "
            "were deleted from its end"]
        cut.rollback()

    with session.begin_nested() as rewrite:
        _rewrite(session, 2, "mallory")
        assert audit.verify(session).ok  # consistent again, rehashed from event 2 on …
        report = anchoring_report(session, [KEY.verifier], [("kept", kept)])
        assert report.problems[0].startswith(
            "kept: checkpoint kept: the ledger's first 6 events do not hash to its root")
        assert "the history it covers was rewritten" in report.problems[0]
        with pytest.raises(Conflict, match=r"no checkpoint signed: checkpoint 1 .* was rewritten"):
            on_demand(session, KEY, actor="auditor")  # never signs a tree that forks the last one
        rewrite.rollback()

    with session.begin_nested() as whole:  # the whole chain, and the stored checkpoints deleted too
        _rewrite(session, 1, "mallory")
        tamper(session, "ledger_checkpoint", "DELETE FROM ledger_checkpoint")
        assert audit.verify(session).ok
        assert anchoring_report(session, [KEY.verifier], []).problems == []  # nothing left inside …
        assert anchoring_report(session, [KEY.verifier], [("kept", kept)]).problems  # … but outside
        whole.rollback()


def test_a_checkpoint_with_a_bad_signature_or_another_key_is_refused(session: Session) -> None:
    record_events(session, 2)
    note = sign_ledger(session, KEY, reason="demand", actor="auditor").note
    forged = note.replace("\n2\n", "\n1\n")
    [bad] = anchoring_report(session, [KEY.verifier], [("forged", forged)]).problems
    assert "does not verify: the note was changed or forged" in bad
    other = generate("kaohe.test/ledger")
    unknown, stored = anchoring_report(session, [other.verifier], [("kept", note)]).problems
    assert "signed by no trusted key: the note names kaohe.test/ledger" in unknown
    assert stored.startswith("stored checkpoint 1: checkpoint refused: signed by no trusted key")
    foreign = sign(TreeHead("another.log/ledger", 2, bytes(32)).text, other)
    with pytest.raises(CheckpointError, match="no trusted key"):
        open_checkpoint(foreign, [KEY.verifier])


def test_a_stored_checkpoints_columns_must_say_what_its_note_says(session: Session) -> None:
    record_events(session, 3)
    sign_ledger(session, KEY, reason="demand", actor="a")
    tamper(session, "ledger_checkpoint", "UPDATE ledger_checkpoint SET tree_size = 2")
    assert anchoring_report(session, [KEY.verifier], []).problems == [
        "stored checkpoint 1: its columns differ from what its note says"]


def test_a_checkpoint_is_stored_once_per_tree_and_extends_the_last(session: Session) -> None:
    record_events(session, 3)
    first = sign_ledger(session, KEY, reason="demand", actor="a")
    assert sign_ledger(session, KEY, reason="export", actor="b").id == first.id  # nothing new: the same
    record_events(session, 2, start=4)
    second = sign_ledger(session, KEY, reason="demand", actor="a", now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    assert (second.tree_size, second.reason) == (5, "demand")
    check_extends(TreeHead(KEY.name, 3, bytes.fromhex(first.root_hash)), ledger_tree(session), "first")
    stored = session.scalar(select(LedgerCheckpoint.note).where(LedgerCheckpoint.id == second.id))
    assert stored == second.note


@pytest.mark.skipif(not os.environ.get("KAOHE_TEST_DATABASE_URL", "").startswith("postgresql"),
                    reason="the append-only trigger exists on PostgreSQL only")
def test_postgres_refuses_to_change_a_stored_checkpoint(session: Session) -> None:
    record_events(session, 1)
    sign_ledger(session, KEY, reason="demand", actor="a")
    with pytest.raises(Exception, match="refused: a signed checkpoint is kept as it was signed"), \
            session.begin_nested():
        session.execute(text("UPDATE ledger_checkpoint SET tree_size = 0"))


def test_production_refuses_to_start_without_an_owner_only_signing_key(tmp_path: Path) -> None:
    base = {"KAOHE_ENV": "production", "KAOHE_SECRET_KEY": "s" * 64, "KAOHE_INSTANCE_PATH": str(tmp_path)}
    with pytest.raises(ConfigError, match="KAOHE_SIGNING_KEY must name the ledger's checkpoint signing key"):
        load_settings(base)
    path = tmp_path / "ledger.key"
    path.write_text(KEY.text + "\n")
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="is readable by others: chmod 600 it"):
        load_settings({**base, "KAOHE_SIGNING_KEY": str(path)})
    path.chmod(0o600)
    assert load_settings({**base, "KAOHE_SIGNING_KEY": str(path)}).signing_key_path == path


def test_cli_keygen_checkpoint_and_verify_against_it(fresh_url: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    key_file, cp = tmp_path / "keys" / "ledger.key", tmp_path / "cp.txt"
    key_file.parent.mkdir()
    with cli_runner(fresh_url, tmp_path, monkeypatch) as runner:
        made = runner.invoke(main, ["audit", "keygen", "--output", str(key_file),
                                    "--name", "kaohe.test/ledger"])
        assert made.exit_code == 0, made.output
        assert key_file.stat().st_mode & 0o777 == 0o600
        verifier = made.output.strip().splitlines()[-1]
        assert parse_verifier(verifier) == parse_signer(key_file.read_text()).verifier
        again = runner.invoke(main, ["audit", "keygen", "--output", str(key_file), "--name", "x/y"])
        assert again.exit_code == 1 and "is never overwritten" in again.output
        env = {"KAOHE_SIGNING_KEY": str(key_file)}
        signed = runner.invoke(main, ["audit", "checkpoint", "--output", str(cp)], env=env)
        assert signed.exit_code == 0, signed.output
        assert "checkpoint of 0 events signed by kaohe.test/ledger" in signed.output
        ok = runner.invoke(main, ["audit", "verify", "--checkpoint", str(cp)], env=env)
        assert ok.exit_code == 0, ok.output
        assert f"checkpoint {cp}: OK, the ledger's 0 events extend its 0" in ok.output
        assert runner.invoke(main, ["audit", "key"], env=env).output == verifier + "\n"
        cp.write_text(cp.read_text().replace("\n0\n", "\n1\n"))
        bad = runner.invoke(main, ["audit", "verify", "--checkpoint", str(cp)], env=env)
        assert bad.exit_code == 1 and "does not verify: the note was changed or forged" in bad.output
        other = runner.invoke(main, ["audit", "verify", "--checkpoint", str(cp)])  # the instance's own key
        assert other.exit_code == 1 and "signed by no trusted key" in other.output
