"""Benchmark: how fast ``audit.verify`` checks a ledger, against raw SHA-256 over the same bytes.

Writes N events (default 100,000) to a fresh SQLite file, or appends them to the database at
``--url``, then in one process times ``verify`` over the whole ledger and ``hashlib.sha256`` over
exactly the bytes verify hashes (read back beforehand, so the raw figure is pure hashing). The
ratio is what the ledger's format, the database reads and Python cost on top of SHA-256 itself.

    .venv/bin/python bench/verify_ledger.py [--events 100000] [--url postgresql://…]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

import audit
from audit.chain import hash_input, head
from engine.values.canonical import canonical_json
from store import AuditEvent, make_engine, make_session_factory
from store import migrate as store_migrate

BATCH = 5000
ACTIONS = ("case.transition", "import.file", "target.change", "auth.login", "pack.version")


def _payload(i: int) -> str:
    """A payload of realistic size and content (about 200 bytes, some of it Chinese)."""
    return canonical_json({
        "case_id": i,
        "from": "proposed",
        "to": "reviewed",
        "points": Decimal(-i % 40) / 4,
        "reason": f"第{i}号扣分事项：材料已核实，按考核办法第{i % 30}条处理",
        "firing_ids": [i * 3, i * 3 + 1],
        "evidence_sha256": hashlib.sha256(str(i).encode()).hexdigest(),
    }).decode()


def _rows(start_seq: int, prev_hash: str, count: int) -> Iterator[dict[str, Any]]:
    """The chain as ``audit.record`` would build it, computed in bulk for speed of writing."""
    at = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    for seq in range(start_seq, start_seq + count):
        fields: dict[str, Any] = {
            "seq": seq,
            "recorded_at": at + dt.timedelta(seconds=seq, microseconds=seq % 1_000_000),
            "actor": f"auditor{seq % 17}",
            "action": ACTIONS[seq % len(ACTIONS)],
            "subject_type": "case",
            "subject_id": str(seq),
            "payload": _payload(seq),
            "prev_hash": prev_hash,
        }
        prev_hash = hashlib.sha256(hash_input(**fields)).hexdigest()
        yield {**fields, "hash": prev_hash}


def write_events(factory: sessionmaker[Session], count: int) -> None:
    with factory() as session, session.begin():
        last_seq, prev_hash = head(session)
    rows = _rows(last_seq + 1, prev_hash, count)
    written = 0
    while written < count:
        batch = [next(rows) for _ in range(min(BATCH, count - written))]
        with factory() as session, session.begin():
            session.execute(insert(AuditEvent), batch)
        written += len(batch)


def hashed_bytes(session: Session) -> list[bytes]:
    """Exactly the bytes verify hashes, one per stored event, in seq order."""
    return [
        hash_input(seq=e.seq, recorded_at=e.recorded_at, actor=e.actor, action=e.action,
                   subject_type=e.subject_type, subject_id=e.subject_id, payload=e.payload,
                   prev_hash=e.prev_hash)
        for e in session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars()
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=100_000, help="events to write (default 100000)")
    parser.add_argument("--url", help="database URL (default: a new SQLite file in a temporary folder)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'ledger.db'}"
        engine = make_engine(url)
        store_migrate.upgrade(engine)
        factory = make_session_factory(engine)

        started = time.perf_counter()
        write_events(factory, args.events)
        print(f"wrote {args.events:,} events to {engine.url.render_as_string(hide_password=True)} "
              f"in {time.perf_counter() - started:.1f} s")

        with factory() as session, session.begin():
            started = time.perf_counter()
            report = audit.verify(session)
            verify_s = time.perf_counter() - started
        if not report.ok:
            print(f"verify failed: {report.first_break}")
            return 1
        total = report.events_checked

        with factory() as session, session.begin():
            blobs = hashed_bytes(session)
        started = time.perf_counter()
        for blob in blobs:
            hashlib.sha256(blob).digest()
        raw_s = time.perf_counter() - started
        engine.dispose()

    size = sum(map(len, blobs))
    print(f"ledger: {total:,} events, {size / total:.0f} hashed bytes per event on average")
    print(f"verify:      {total / verify_s:>12,.0f} events/s  ({verify_s:.2f} s)")
    print(f"raw sha256:  {total / raw_s:>12,.0f} events/s  ({raw_s:.3f} s, {size / raw_s / 1e6:,.0f} MB/s)")
    print(f"ratio:       verify is {verify_s / raw_s:,.1f}x slower than raw SHA-256 over the same bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
