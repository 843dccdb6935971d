"""Publication and seal sign a checkpoint covering their own event; a run's export bundle holds every
decision on its cases and appeals, and proves itself against the checkpoint a reader kept."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from audit.bundle import MANIFEST
from audit.bundle_verify import verify_bundle
from audit.checkpoint import bind_signer, latest, open_checkpoint, sign_ledger
from audit.export import export_run
from audit.note import generate
from engine import pack_document
from engine.values.canonical import canonical_json
from store import AuditEvent, LedgerCheckpoint
from tests.audit_support import record_events, tamper
from tests.cases.conftest import RUN_ID, T0
from tests.cases.test_publication_appeals import (
    AUDITOR,
    COMMITTEE,
    CRITICISM_SEQ,
    OFFICE,
    REVIEWER,
    _approve_all,
)
from tests.test_audit_bundle import _rehash
from tests.test_audit_checkpoint import _rewrite
from workflows.cases import decide_appeal, file_appeal, publish, seal, take_appeal
from workflows.errors import Conflict

KEY = generate("kaohe.test/ledger")


def _head(session: Session) -> AuditEvent:
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
    return event


def test_publication_and_seal_checkpoint_and_the_bundle_holds_every_decision(ds: Session,
                                                                             tmp_path: Path) -> None:
    bind_signer(ds, KEY)  # as the app and the CLI do for every session
    _approve_all(ds)
    publish(ds, RUN_ID, actor=OFFICE, now=T0)
    published = latest(ds)
    assert published is not None and (published.reason, published.run_id) == ("publish", RUN_ID)
    assert (published.tree_size, _head(ds).action) == (_head(ds).seq, "run.publish")  # covers it
    appeal = file_appeal(ds, RUN_ID, "C03", [CRITICISM_SEQ], grounds="g", actor="c03.rep",
                         now=T0 + dt.timedelta(days=1))
    take_appeal(ds, appeal.id, actor=REVIEWER)
    decide_appeal(ds, appeal.id, "upheld", actor=REVIEWER, reason="the criticism stands")
    seal(ds, RUN_ID, actor=COMMITTEE, now=T0 + dt.timedelta(days=7))
    sealed = latest(ds)
    assert sealed is not None and (sealed.reason, sealed.tree_size) == ("seal", _head(ds).seq)
    assert _head(ds).action == "run.seal"

    bundle = export_run(ds, RUN_ID, pack_document=pack_document, actor=AUDITOR, signer=KEY)
    assert ds.scalar(select(func.count()).select_from(LedgerCheckpoint)) == 2  # the seal's, reused
    folder = tmp_path / "bundle"
    bundle.write_dir(folder)
    manifest = json.loads((folder / MANIFEST).read_bytes())
    listed = set(manifest["chain"]["run_event_seqs"])
    actions = {e.action for e in ds.scalars(select(AuditEvent).where(AuditEvent.seq.in_(listed)))}
    assert {"run.create", "case.open", "case.review", "case.approve", "case.publish", "run.publish",
            "appeal.file", "appeal.take", "appeal.uphold", "run.seal"} <= actions
    kept = open_checkpoint(published.note, [KEY.verifier])  # what a unit printed from the 公示 page
    report = verify_bundle(folder, trusted=[KEY.verifier], held=[kept])
    assert report.ok, report.problems

    manifest["chain"]["run_event_seqs"].remove(min(s for s in listed if s > manifest["chain"]["first_seq"]))
    (folder / MANIFEST).write_bytes(canonical_json(manifest))
    _rehash(folder)
    problems = verify_bundle(folder, trusted=[KEY.verifier]).problems
    assert [p.kind for p in problems] == ["run_events_mismatch"], problems


def test_a_rewritten_ledger_fails_its_bundle_against_a_checkpoint_kept_elsewhere(ds: Session,
                                                                                tmp_path: Path) -> None:
    kept = open_checkpoint(sign_ledger(ds, KEY, reason="demand", actor=AUDITOR).note, [KEY.verifier])
    _rewrite(ds, 2, "mallory")
    tamper(ds, "ledger_checkpoint", "DELETE FROM ledger_checkpoint")  # the forger hides the old ones
    export_run(ds, RUN_ID, pack_document=pack_document, actor=AUDITOR, signer=KEY).write_dir(tmp_path / "a")
    same_size = verify_bundle(tmp_path / "a", trusted=[KEY.verifier], held=[kept]).problems
    assert [p.kind for p in same_size] == ["checkpoint_mismatch"]
    assert f"two trees of {kept.head.size} leaves with different roots" in same_size[0].detail
    record_events(ds, 2)
    export_run(ds, RUN_ID, pack_document=pack_document, actor=AUDITOR, signer=KEY).write_dir(tmp_path / "b")
    grown = verify_bundle(tmp_path / "b", trusted=[KEY.verifier], held=[kept]).problems
    assert [p.kind for p in grown] == ["checkpoint_mismatch"]
    # (the forged tree's own checkpoint, stored at the first export, gives a proof from its size)
    assert "the history was changed" in grown[0].detail


def test_publication_is_refused_when_the_ledger_no_longer_extends_the_last_checkpoint(ds: Session) -> None:
    bind_signer(ds, KEY)
    sign_ledger(ds, KEY, reason="demand", actor=AUDITOR)
    _rewrite(ds, 2, "mallory")  # rehashed from event 2: every check inside the database passes
    _approve_all(ds)
    with pytest.raises(Conflict, match=f"run {RUN_ID}: publish refused, the ledger cannot be checkpointed: "
                                       "checkpoint 1 .* the history it covers was rewritten"):
        publish(ds, RUN_ID, actor=OFFICE, now=T0)
