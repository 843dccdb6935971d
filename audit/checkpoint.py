"""Signed checkpoints of the ledger: its RFC 6962 tree head, signed as a C2SP ``tlog-checkpoint``.

A hash chain kept in the database can be cut at its tail or rebuilt whole by whoever holds the
database, and every check inside it still passes. A checkpoint held elsewhere — printed on the
公示 page, kept by a unit, put in an export bundle — fixes the ledger's first N events: today's
ledger must still have them, with the same tree root. Leaf i (from 0) of the tree is the 32 bytes
of event i+1's ``hash``; the tree, the note and the keys are specified in ``docs/audit-format.md``
section 6. Every checkpoint signed is also stored (table ``ledger_checkpoint``), so the log never
signs a tree that does not extend the last one it signed.

The signing key never enters the database: the app and the CLI read it from the file the
configuration names and bind it to their sessions (:func:`bind_signer`); publication and seal then
sign a checkpoint in the same transaction, covering their own event (:func:`sign_milestone`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from audit import tlog
from audit.merkle import leaf_hash
from audit.note import NoteError, SignerKey, VerifierKey, open_note, sign
from store import AuditEvent, LedgerCheckpoint

_SIGNER = "kaohe.ledger_signer"


class CheckpointError(ValueError):
    """A checkpoint that is not the ledger's, or that cannot be made, with what to do."""


@dataclass(frozen=True)
class TreeHead:
    """What a checkpoint's text says: the log's origin, its tree size and root."""

    origin: str
    size: int
    root: bytes

    @property
    def text(self) -> str:
        """The note text: origin, size, base64 root, each line ending in LF."""
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode('ascii')}\n"


def parse_head(text: str) -> TreeHead:
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or not all(lines[:-1]):
        raise CheckpointError("a checkpoint's text is at least three non-empty lines: origin, "
                              "tree size, root hash")
    origin, size, root = lines[:3]
    if not size.isascii() or not size.isdigit() or (size != "0" and size.startswith("0")):
        raise CheckpointError(f"tree size {size!r} is not a decimal number without leading zeros")
    try:
        raw = base64.b64decode(root.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise CheckpointError(f"root hash {root!r} is not base64") from exc
    if len(raw) != 32:
        raise CheckpointError(f"root hash {root!r} is not 32 bytes")
    return TreeHead(origin, int(size), raw)


@dataclass(frozen=True)
class Checkpoint:
    """A signed checkpoint whose signature by a trusted key verified."""

    head: TreeHead
    key: VerifierKey
    note: str


def open_checkpoint(note: str, trusted: Sequence[VerifierKey]) -> Checkpoint:
    """Check the note's signature against the trusted keys and read its tree head.

    The log's origin is its key's name (a rotated key keeps the name), so a note signed by a
    trusted key for another origin is refused too.
    """
    try:
        opened = open_note(note, trusted)
    except NoteError as exc:
        raise CheckpointError(f"checkpoint refused: {exc}") from exc
    head = parse_head(opened.text)
    if head.origin != opened.key.name:
        raise CheckpointError(f"checkpoint refused: it is of log {head.origin!r}, signed by key "
                              f"{opened.key.name!r}")
    return Checkpoint(head, opened.key, note)


def ledger_leaf_hashes(session: Session) -> list[bytes]:
    """The leaf hashes of the ledger's tree as stored, in seq order; a gap in the seqs is an error
    (leaf i must be event i+1): ``kaohe audit verify`` names it."""
    hashes = session.scalars(select(AuditEvent.hash).order_by(AuditEvent.seq)).all()
    last = session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)) or 0
    if last != len(hashes):
        raise CheckpointError(f"the ledger has {len(hashes)} events but its last is {last}: events "
                              "are missing (run `kaohe audit verify`)")
    try:
        return [leaf_hash(bytes.fromhex(h)) for h in hashes]
    except ValueError as exc:
        raise CheckpointError(f"an event's stored hash is not hex: {exc}") from exc


def ledger_tree(session: Session) -> tlog.Tree:
    """The ledger's tree as stored (:func:`ledger_leaf_hashes`)."""
    return tlog.Tree(ledger_leaf_hashes(session))


def check_extends(head: TreeHead, tree: tlog.Tree, what: str) -> None:
    """Refuse unless the ledger's tree starts with the tree ``head`` describes."""
    if tree.size < head.size:
        raise CheckpointError(
            f"{what} covers {head.size} events but the ledger has only {tree.size}: events "
            f"{tree.size + 1}–{head.size} were deleted from its end")
    if tree.root(head.size) != head.root:
        raise CheckpointError(
            f"{what}: the ledger's first {head.size} events do not hash to its root "
            f"{base64.b64encode(head.root).decode('ascii')}: the history it covers was rewritten")


def latest(session: Session) -> LedgerCheckpoint | None:
    return session.scalars(select(LedgerCheckpoint)
                           .order_by(LedgerCheckpoint.tree_size.desc(), LedgerCheckpoint.id.desc())
                           .limit(1)).first()


def sign_ledger(session: Session, key: SignerKey, *, reason: str, actor: str, run_id: int | None = None,
                now: dt.datetime | None = None) -> LedgerCheckpoint:
    """Sign and store a checkpoint of the ledger as it stands in this transaction (flushed, never
    committed); the last one stored is returned instead when the ledger has not grown since and
    the key is the same.

    Refused when the ledger no longer extends the last checkpoint stored: a log never signs a tree
    inconsistent with one it signed before (C2SP tlog-checkpoint).
    """
    return signed_tree(session, key, reason=reason, actor=actor, run_id=run_id, now=now)[0]


def signed_tree(session: Session, key: SignerKey, *, reason: str, actor: str, run_id: int | None = None,
                now: dt.datetime | None = None) -> tuple[LedgerCheckpoint, tlog.Tree]:
    """:func:`sign_ledger`, and the tree it signed (for proofs)."""
    session.flush()
    # The last checkpoint before the leaves: one committed in between (PostgreSQL reads each
    # statement's latest commit) then covers events the leaves hold too, never more.
    last = latest(session)
    tree = ledger_tree(session)
    head = TreeHead(key.name, tree.size, tree.root())
    if last is not None:
        check_extends(TreeHead(last.key_name, last.tree_size, bytes.fromhex(last.root_hash)), tree,
                      f"checkpoint {last.id} (signed {last.made_at:%Y-%m-%d %H:%M} UTC)")
        if last.tree_size == head.size and last.key_id == key.verifier.key_id.hex():
            return last, tree
    row = LedgerCheckpoint(
        tree_size=head.size, root_hash=head.root.hex(), note=sign(head.text, key), key_name=key.name,
        key_id=key.verifier.key_id.hex(), reason=reason, run_id=run_id,
        made_at=now or dt.datetime.now(dt.UTC), made_by=actor)
    session.add(row)
    session.flush()
    return row, tree


def bind_signer(session: Session, key: SignerKey) -> None:
    """Give the session the instance's signing key, so a publication or seal made in it signs a
    checkpoint. The app and the CLI bind it to every session they open."""
    session.info[_SIGNER] = key


def signer_info(key: SignerKey) -> dict[str, object]:
    """:func:`bind_signer` as ``Session.info`` for a session factory, binding every session."""
    return {_SIGNER: key}


def bound_signer(session: Session) -> SignerKey | None:
    key = session.info.get(_SIGNER)
    return key if isinstance(key, SignerKey) else None


def sign_milestone(session: Session, *, reason: str, actor: str, run_id: int,
                   now: dt.datetime | None = None) -> LedgerCheckpoint | None:
    """A checkpoint after a publication or a seal, covering its event, when the session has a
    signing key (every session of the app and the CLI has; a service called bare does not)."""
    key = bound_signer(session)
    if key is None:
        return None
    return sign_ledger(session, key, reason=reason, actor=actor, run_id=run_id, now=now)


@dataclass(frozen=True)
class StoredProblem:
    checkpoint_id: int
    detail: str


def check_stored(session: Session, trusted: Sequence[VerifierKey]) -> tuple[list[StoredProblem], tlog.Tree]:
    """Every stored checkpoint: signed by a trusted key, its columns what its note says, and the
    ledger still extending it. A rewritten ledger fails here unless its checkpoints were deleted
    too — which only a checkpoint kept outside the database shows. Also the ledger's tree, read
    after the checkpoints (so none of them can be newer than the tree)."""
    rows = session.scalars(select(LedgerCheckpoint).order_by(LedgerCheckpoint.id)).all()
    tree = ledger_tree(session)
    problems = []
    for row in rows:
        try:
            cp = open_checkpoint(row.note, trusted)
            if (cp.head.size, cp.head.root.hex(), cp.key.name, cp.key.key_id.hex()) != (
                    row.tree_size, row.root_hash, row.key_name, row.key_id):
                raise CheckpointError("its columns differ from what its note says")
            check_extends(cp.head, tree, f"checkpoint {row.id}")
        except CheckpointError as exc:
            problems.append(StoredProblem(row.id, str(exc)))
    return problems, tree
