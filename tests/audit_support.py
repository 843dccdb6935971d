"""Builders and direct-to-database tampering for the audit ledger tests."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

import audit
from engine.values.canonical import canonical_json
from store import AuditEvent, Firing, RulePack, Run, ScoreSheet, Unit
from tests.factories import make_scheme_with_category

NOW = dt.datetime(2025, 1, 15, 9, 30, tzinfo=dt.UTC)


def record_events(session: Session, count: int, start: int = 1) -> list[AuditEvent]:
    return [
        audit.record(
            session,
            actor=f"auditor{i % 3}",
            action="case.transition",
            subject_type="case",
            subject_id=i,
            payload={"from": "proposed", "to": "reviewed", "reason": f"核实第{i}项",
                     "points": Decimal("-0.5")},
        )
        for i in range(start, start + count)
    ]


def make_run(session: Session, *, code: str = "A2024", firings: int = 3, units: int = 2) -> Run:
    """A stored run with firings and score sheets, built by hand from the store models."""
    scheme, category = make_scheme_with_category(session, code=code)
    members = [
        Unit(scheme=scheme, code=f"U{i}", name=f"单位{i}", level="county", category=category)
        for i in range(units)
    ]
    yaml_text = "name: demo\nrules: []\n"
    pack = RulePack(name=f"pack-{code}", version="1", yaml_text=yaml_text,
                    sha256=hashlib.sha256(yaml_text.encode()).hexdigest(), status="approved",
                    created_at=NOW, created_by="office")
    snapshot = canonical_json({"facts": [{"unit": "U0", "indicator": "GDP", "value": Decimal("6.5")}]})
    run = Run(scheme=scheme, rule_pack=pack, period="2024", kind="year", snapshot=snapshot.decode(),
              snapshot_sha256=hashlib.sha256(snapshot).hexdigest(), run_hash="ab" * 32,
              created_at=NOW, created_by="office")
    session.add_all([*members, pack, run])
    for i in range(firings):
        session.add(Firing(
            run=run, seq=i + 1, rule_id="deduct.late_report", rule_version=2, pack_sha256=pack.sha256,
            unit=members[i % units], indicator_code="GDP", period="2024", effect="deduction",
            bucket=None, matched_facts=[{"fact": "late_report", "count": i + 1}],
            raw_points=Decimal("-1.0000"), points=Decimal(-1), text_zh="迟报一次，扣1分",
            text_en="late report: -1"))
    for i, unit in enumerate(members):
        session.add(ScoreSheet(
            run=run, unit=unit, category_code="county", sections={"quant": "50.5", "key": "38"},
            bonus=Decimal("0.5"), deduction=Decimal("-1.25"), vetoes=[], total=Decimal("87.75"),
            rank=i + 1, grade="good", flags=[]))
    session.flush()
    return run


def tamper(session: Session, table: str, sql: str, **params: Any) -> None:
    """Change rows behind the application's back, as a DBA would.

    On PostgreSQL the append-only trigger is disabled first (as the superuser the tests connect
    as); the test's transaction is rolled back afterwards, which re-enables it.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"))
    session.execute(text(sql), params)
    session.expire_all()
