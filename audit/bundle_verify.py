"""Checking an export bundle with no database: files, chain segment, the signed checkpoint and the
run's events, Merkle roots, run hash.

Every check reads only the bundle's bytes, exactly as ``docs/audit-format.md`` section 5 says a
third party would. The replay check needs the engine, which ``audit`` does not import: the caller
passes it in as a function (the CLI does).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from audit import tlog
from audit.bundle import (
    BUNDLE_FORMAT,
    CHECKPOINT,
    CUTS,
    EVENT_FIELDS,
    EVENTS,
    FILES,
    FIRINGS,
    MANIFEST,
    PACK_JSON,
    PACK_YAML,
    SCORE_SHEETS,
    SNAPSHOT,
    UNITS,
    BundleFiles,
    about_run,
    engine_cut,
    engine_firing,
    engine_sheet,
    file_entry,
    jsonl_lines,
    loads_object,
    parse_time,
    plain_run_hash,
)
from audit.chain import FORMAT, GENESIS_HASH, hash_input
from audit.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from audit.merkle import leaf_hash, merkle_root
from audit.note import VerifierKey
from engine.values.canonical import canonical_json

ProblemKind = Literal[
    "bad_bundle", "missing_file", "unlisted_file", "file_mismatch", "bad_line",
    "missing_seq", "broken_link", "hash_mismatch", "anchor_mismatch", "run_event_missing",
    "manifest_mismatch", "run_root_mismatch", "foreign_row", "unknown_unit", "snapshot_mismatch",
    "pack_mismatch", "run_hash_mismatch", "replay_mismatch", "checkpoint_refused",
    "checkpoint_mismatch", "run_events_mismatch",
]


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    file: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} in {self.file}: {self.detail}"


@dataclass(frozen=True)
class Replayed:
    """What re-evaluating the bundle's snapshot under its pack gave, in the engine's plain form."""

    pack_sha256: str
    run_hash: str
    firings: Sequence[Mapping[str, Any]]
    sheets: Sequence[Mapping[str, Any]]
    cuts: Sequence[Mapping[str, Any]]


Replayer = Callable[[str, str], Replayed]
"""(pack YAML text, snapshot JSON text) → the replayed result."""


@dataclass
class BundleReport:
    run_id: int | None = None
    events_checked: int = 0
    firings: int = 0
    score_sheets: int = 0
    replayed: bool = False
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, kind: ProblemKind, file: str, detail: str) -> None:
        self.problems.append(Problem(kind, file, detail))

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "run_id": self.run_id, "events_checked": self.events_checked,
                "firings": self.firings, "score_sheets": self.score_sheets, "replayed": self.replayed,
                "problems": [{"kind": p.kind, "file": p.file, "detail": p.detail} for p in self.problems]}


class _Stop(Exception):
    """A problem after which the remaining checks would only repeat it."""


def _rows(files: Mapping[str, bytes], name: str, report: BundleReport) -> list[dict[str, Any]]:
    rows = []
    for n, line in enumerate(jsonl_lines(files[name]), 1):
        try:
            rows.append(loads_object(line, f"line {n}"))
        except ValueError as exc:
            report.add("bad_line", name, str(exc))
            raise _Stop from exc
    return rows


def _check_files(files: Mapping[str, bytes], report: BundleReport) -> dict[str, Any]:
    if MANIFEST not in files:
        report.add("missing_file", MANIFEST, "the bundle has no manifest")
        raise _Stop
    try:
        manifest = loads_object(files[MANIFEST], MANIFEST)
        listed = manifest["files"]
        if manifest.get("bundle_format") != BUNDLE_FORMAT or manifest.get("audit_format") != FORMAT:
            raise ValueError(f"formats are not {BUNDLE_FORMAT} / {FORMAT}")
        report.run_id = manifest["run"]["id"]
    except (ValueError, KeyError, TypeError) as exc:
        report.add("bad_bundle", MANIFEST, str(exc))
        raise _Stop from exc
    for name in sorted(set(files) - {MANIFEST} - set(listed)):
        report.add("unlisted_file", name, "the manifest does not list it")
    for name in FILES:
        if name not in files:
            report.add("missing_file", name, "listed in the format but absent")
        elif listed.get(name) != file_entry(files[name]):
            report.add("file_mismatch", name,
                       f"has {file_entry(files[name])}, the manifest says {listed.get(name)}")
    if report.problems:
        raise _Stop
    return manifest


def _check_chain(
    events: list[dict[str, Any]], manifest: Mapping[str, Any], anchors: Mapping[int, str],
    report: BundleReport,
) -> None:
    """The segment's seqs run without gaps, each links to the one before and hashes to itself."""
    chain = manifest["chain"]
    expected, prev = chain["first_seq"], chain["prev_hash"]
    if expected == 1 and prev != GENESIS_HASH:
        report.add("broken_link", EVENTS, "event 1 must follow the genesis hash")
    if anchors.get(expected - 1, prev) != prev:
        report.add("anchor_mismatch", EVENTS,
                   f"the segment follows {prev}, not the anchored hash of event {expected - 1}")
    for event in events:
        if sorted(event) != sorted(EVENT_FIELDS) or not isinstance(event["seq"], int):
            report.add("bad_line", EVENTS, f"event {event.get('seq')} has members {sorted(event)}")
            raise _Stop
        seq = event["seq"]
        if seq != expected:
            report.add("missing_seq", EVENTS, f"event {expected} is missing; the next is {seq}")
            raise _Stop
        if event["prev_hash"] != prev:
            report.add("broken_link", EVENTS, f"event {seq}: prev_hash is not the hash of event {seq - 1}")
            raise _Stop
        fields = {k: v for k, v in event.items() if k != "hash"}
        try:
            if not all(isinstance(v, str) for k, v in event.items() if k != "seq"):
                raise ValueError("every member but seq must be a string")
            data = hash_input(**{**fields, "recorded_at": parse_time(event["recorded_at"])})
        except ValueError as exc:
            report.add("bad_line", EVENTS, f"event {seq}: {exc}")
            raise _Stop from exc
        if hashlib.sha256(data).hexdigest() != event["hash"]:
            report.add("hash_mismatch", EVENTS, f"event {seq} ({event['action']}) does not hash to its hash")
            raise _Stop
        if anchors.get(seq, event["hash"]) != event["hash"]:
            report.add("anchor_mismatch", EVENTS, f"event {seq} is not the anchored {anchors[seq]}")
        report.events_checked += 1
        expected, prev = seq + 1, event["hash"]
    if expected - 1 != chain["last_seq"]:
        report.add("missing_seq", EVENTS, f"the segment ends at {expected - 1}, not {chain['last_seq']}")
        raise _Stop
    for seq in sorted(anchors):
        if not chain["first_seq"] - 1 <= seq <= chain["last_seq"]:
            report.add("anchor_mismatch", EVENTS, f"anchored event {seq} is outside the bundle's segment")


def _hashes(values: Any, what: str) -> list[bytes]:
    if not isinstance(values, list) or not all(isinstance(v, str) and len(v) == 64 for v in values):
        raise ValueError(f"{what} is not a list of 64-hex hashes")
    return [bytes.fromhex(v) for v in values]


def _check_checkpoint(files: Mapping[str, bytes], events: list[dict[str, Any]],
                      manifest: Mapping[str, Any], trusted: Sequence[VerifierKey],
                      held: Sequence[Checkpoint], report: BundleReport) -> None:
    """``checkpoint.txt`` is signed by a trusted key and its tree ends with the segment's last
    event (so it fixes every event of the segment, each hash binding the one before); the
    checkpoints held elsewhere are the start of that tree (RFC 6962 consistency proofs)."""
    try:
        checkpoint = open_checkpoint(files[CHECKPOINT].decode("utf-8"), trusted)
    except (CheckpointError, UnicodeDecodeError) as exc:
        report.add("checkpoint_refused", CHECKPOINT, str(exc))
        raise _Stop from exc
    head, anchoring = checkpoint.head, manifest["checkpoint"]
    if not events:
        report.add("missing_seq", EVENTS, "the bundle holds no event")
        raise _Stop
    last = events[-1]
    if (head.size, anchoring["tree_size"]) != (last["seq"], last["seq"]):
        report.add("checkpoint_mismatch", CHECKPOINT,
                   f"the checkpoint covers {head.size} events; the segment ends at event {last['seq']}")
        raise _Stop
    try:
        proof = _hashes(anchoring["inclusion_proof"], "the inclusion proof")
        tlog.verify_inclusion(leaf_hash(bytes.fromhex(last["hash"])), head.size - 1, head.size, proof,
                              head.root)
    except ValueError as exc:
        report.add("checkpoint_mismatch", CHECKPOINT, f"event {last['seq']} is not the signed tree's "
                   f"last leaf: {exc}")
        raise _Stop from exc
    proofs = {c["tree_size"]: c["proof"] for c in anchoring["consistency"]}
    for kept in held:
        where = f"the checkpoint held elsewhere ({kept.head.size} events)"
        try:
            if kept.head.size > head.size:
                raise tlog.ProofError(f"{where} is larger than the bundle's ({head.size} events): "
                                      "the ledger lost events, or the bundle is older")
            if kept.head.size not in proofs and 0 < kept.head.size < head.size:
                raise tlog.ProofError(f"the bundle has no consistency proof from {where}: the "
                                      "ledger lost that checkpoint")
            tlog.verify_consistency(kept.head.size, head.size,
                                    _hashes(proofs.get(kept.head.size, []), "a consistency proof"),
                                    kept.head.root, head.root)
        except ValueError as exc:
            report.add("checkpoint_mismatch", CHECKPOINT, f"{where}: {exc}")


def _check_run_events(events: list[dict[str, Any]], manifest: Mapping[str, Any],
                      report: BundleReport) -> None:
    """The listed events are exactly the segment's events about the run, the first starting it."""
    run_id, listed = manifest["run"]["id"], manifest["chain"]["run_event_seqs"]
    try:
        about = [e["seq"] for e in events if about_run(
            e["action"], e["subject_type"], e["subject_id"],
            loads_object(e["payload"].encode("utf-8"), f"event {e['seq']}'s payload"), run_id)]
    except ValueError as exc:
        report.add("bad_line", EVENTS, str(exc))
        raise _Stop from exc
    if about != listed or not about or about[0] != manifest["chain"]["first_seq"]:
        report.add("run_events_mismatch", MANIFEST,
                   f"run_event_seqs lists {listed}; the events about run {run_id} are {about}")


def _run_event(events: list[dict[str, Any]], manifest: Mapping[str, Any],
               report: BundleReport) -> dict[str, Any]:
    """The ``run.create`` payload; the manifest's claims about the run must be exactly it."""
    run_id = manifest["run"]["id"]
    seq = manifest["chain"]["run_create_seq"]
    event = next((e for e in events if e["seq"] == seq), None)
    if event is None or (event["action"], event["subject_type"], event["subject_id"]) != (
            "run.create", "run", str(run_id)):
        report.add("run_event_missing", EVENTS, f"event {seq} is not run {run_id}'s run.create")
        raise _Stop
    try:
        payload = loads_object(event["payload"].encode("utf-8"), f"event {seq}'s payload")
    except ValueError as exc:
        report.add("bad_line", EVENTS, str(exc))
        raise _Stop from exc
    for key in ("run", "pack_sha256", "firings", "score_sheets"):
        if manifest.get(key) != payload.get(key):
            report.add("manifest_mismatch", MANIFEST,
                       f"its {key} differs from what run.create (event {seq}) recorded")
    return payload


def _leaf_rows(files: Mapping[str, bytes], name: str, part: str, order: str, run_id: int,
               payload: Mapping[str, Any], report: BundleReport) -> list[dict[str, Any]]:
    """The leaves must be the recorded ones (count and Merkle root) and all belong to the run."""
    lines = jsonl_lines(files[name])
    recorded = payload[part]
    root = merkle_root(lines)
    if (len(lines), root) != (recorded["count"], recorded["merkle_root"]):
        report.add("run_root_mismatch", name,
                   f"{len(lines)} rows with Merkle root {root}; run.create recorded "
                   f"{recorded['count']} rows with root {recorded['merkle_root']}")
        raise _Stop
    rows = _rows(files, name, report)
    keys = [row[order] for row in rows]
    if any(row["run_id"] != run_id for row in rows) or keys != sorted(set(keys)):
        report.add("foreign_row", name, f"rows must all be run {run_id}'s, strictly ordered by {order}")
    return rows


def _check_run(files: Mapping[str, bytes], payload: Mapping[str, Any],
               report: BundleReport) -> dict[str, list[dict[str, Any]]]:
    """Snapshot, pack document, leaves and run hash against ``run.create``; the plain rows."""
    run = payload["run"]
    if hashlib.sha256(files[SNAPSHOT]).hexdigest() != run["snapshot_sha256"]:
        report.add("snapshot_mismatch", SNAPSHOT, "does not hash to the recorded snapshot_sha256")
    if hashlib.sha256(files[PACK_JSON]).hexdigest() != payload["pack_sha256"]:
        report.add("pack_mismatch", PACK_JSON, "does not hash to the recorded pack_sha256")
    firings = _leaf_rows(files, FIRINGS, "firings", "seq", run["id"], payload, report)
    sheets = _leaf_rows(files, SCORE_SHEETS, "score_sheets", "unit_id", run["id"], payload, report)
    report.firings, report.score_sheets = len(firings), len(sheets)
    code_of = {row["id"]: row["code"] for row in _rows(files, UNITS, report)}
    cuts = _rows(files, CUTS, report)
    missing = {r["unit_id"] for r in (*firings, *sheets, *cuts)} - set(code_of)
    if missing:
        report.add("unknown_unit", UNITS, f"no unit with id {sorted(missing)}")
        raise _Stop
    plain = {"firings": [engine_firing(f, code_of) for f in firings],
             "sheets": [engine_sheet(s, code_of) for s in sheets],
             "cuts": [engine_cut(c, code_of) for c in cuts]}
    if plain_run_hash(plain["firings"], plain["sheets"]) != run["run_hash"]:
        report.add("run_hash_mismatch", UNITS,
                   "firings and score sheets under these unit codes do not give the recorded run hash")
    return plain


def _differences(stored: Sequence[Mapping[str, Any]], replayed: Sequence[Mapping[str, Any]],
                 key: str, label: str) -> list[str]:
    old, new = {r[key]: r for r in stored}, {r[key]: r for r in replayed}
    out = []
    for k in sorted(old.keys() | new.keys()):
        if old.get(k) != new.get(k):
            where = ("only in the replay" if k not in old else
                     "missing from the replay" if k not in new else "differs")
            out.append(f"{label} {k} {where}")
    return out


def _check_replay(files: Mapping[str, bytes], payload: Mapping[str, Any],
                  plain: Mapping[str, list[dict[str, Any]]], replayer: Replayer,
                  report: BundleReport) -> None:
    replayed = replayer(files[PACK_YAML].decode("utf-8"), files[SNAPSHOT].decode("utf-8"))
    report.replayed = True
    if replayed.pack_sha256 != payload["pack_sha256"]:
        report.add("pack_mismatch", PACK_YAML, "parses to a pack whose sha256 is not the recorded one")
        return
    if replayed.run_hash != payload["run"]["run_hash"]:
        diffs = (_differences(plain["firings"], replayed.firings, "seq", "firing")
                 + _differences(plain["sheets"], replayed.sheets, "unit", "score sheet"))
        report.add("replay_mismatch", SNAPSHOT,
                   f"replayed run hash {replayed.run_hash}: " + "; ".join(diffs[:10] or ["(hash only)"]))
    if canonical_json(list(replayed.cuts)) != canonical_json(plain["cuts"]):
        report.add("replay_mismatch", CUTS, "the replay's cuts differ from the bundle's")


def verify_bundle(
    path: Path, *, trusted: Sequence[VerifierKey], held: Sequence[Checkpoint] = (),
    replayer: Replayer | None = None, anchors: Mapping[int, str] | None = None,
) -> BundleReport:
    """Check a bundle (zip or directory) from its bytes alone; ``replayer`` also re-evaluates it.

    ``trusted``: the verifier keys its checkpoint may be signed by; ``held``: checkpoints kept
    elsewhere (already opened with trusted keys) that the bundle's must extend."""
    report = BundleReport()
    try:
        bundle = BundleFiles.read(path)
    except ValueError as exc:
        report.add("bad_bundle", str(path), str(exc))
        return report
    files = bundle.files
    try:
        manifest = _check_files(files, report)
        events = _rows(files, EVENTS, report)
        _check_chain(events, manifest, dict(anchors or {}), report)
        _check_checkpoint(files, events, manifest, trusted, held, report)
        _check_run_events(events, manifest, report)
        payload = _run_event(events, manifest, report)
        plain = _check_run(files, payload, report)
        if replayer is not None and report.ok:
            _check_replay(files, payload, plain, replayer, report)
    except (KeyError, TypeError) as exc:
        report.add("bad_bundle", MANIFEST, f"a required member is missing or mistyped: {exc}")
    except _Stop:
        pass
    return report
