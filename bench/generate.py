"""Make a province-scale data set for the benchmarks.

Default size, as the engine issue asks: 5,000 units, 40 indicators each, 12 monthly cumulative
reports per target (2.4 million reports) and 10,000 events, in scheme ``BENCH-2024``. The data go
straight into the database with bulk Core inserts (the benchmark measures runs, not imports),
then are adopted into the audit ledger (``audit.adopt``, as ``kaohe audit adopt`` would); the
schema is made by the migrations as everywhere else. Seeded: the same arguments give the
same rows.

    python bench/generate.py [--url URL] [--units 5000] [--indicators 40] [--events 10000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, insert, select
from sqlalchemy.orm import Session

import audit
from store import Category, Event, Indicator, ProgressReport, Scheme, Section, Target, Unit
from store import migrate as store_migrate
from store.db import make_engine

SCHEME_CODE = "BENCH-2024"
YEAR = 2024
CATEGORIES = (
    # code, zh, en, share of units, sections (code, zh, en, weight)
    ("county", "县（市、区）", "Counties", 0.06,
     (("key_work", "重点工作", "Key work", 40), ("quantitative", "定量指标", "Quantitative", 50),
      ("other", "其他工作", "Other", 10))),
    ("township", "乡镇（街道）", "Townships", 0.76,
     (("key_work", "重点工作", "Key work", 30), ("quantitative", "定量指标", "Quantitative", 60),
      ("other", "其他工作", "Other", 10))),
    ("department", "省直部门", "Departments", 0.18,
     (("key_work", "重点工作", "Key work", 20), ("quantitative", "核心职能", "Core duty", 60),
      ("other", "社会评价", "Evaluation", 20))),
)
METHODS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("proportional", "higher", {"ceiling": "1.2"}),
    ("step", "higher", {"per_point": "0.1"}),
    ("pass_fail", "higher", {}),
    ("lower_better", "lower", {}),
    ("control_line", "control_line", {}),
    ("ranking_decay", "higher", {}),
)
EVENT_SHAPES = (
    ("honour", "honour", ("national", "provincial", "municipal")),
    ("incident", "criticism", ("county", "municipal", "provincial")),
    ("incident", "media_exposure", ("provincial",)),
    ("incident", "petition", ("county", "municipal", "provincial", "national")),
    ("incident", "late_report", ("municipal",)),
    ("project_claim", "industrial_project", ("municipal",)),
)
AT = dt.datetime(2025, 1, 10, tzinfo=dt.UTC)
ADOPTED_BY = "bench.generate"


def _chunks(rows: Iterator[dict[str, Any]], size: int = 20_000) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _bulk(engine: Engine, table: Table, rows: Iterator[dict[str, Any]]) -> int:
    n = 0
    with engine.begin() as conn:
        for batch in _chunks(rows):
            conn.execute(insert(table), batch)
            n += len(batch)
    return n


def generate(engine: Engine, units: int, indicators: int, events: int, seed: int = 2024) -> dict[str, int]:
    rng = random.Random(seed)
    store_migrate.upgrade(engine)
    with engine.begin() as conn:
        if conn.execute(select(Scheme.id).where(Scheme.code == SCHEME_CODE)).first():
            raise SystemExit(f"{SCHEME_CODE} already exists in {engine.url}; use an empty database")
        scheme_id = conn.execute(insert(Scheme).returning(Scheme.id), [{
            "code": SCHEME_CODE, "year": YEAR, "name": "省级目标责任考核（基准数据）", "status": "locked",
            "cutoff_date": dt.date(YEAR, 12, 31), "adjustment_cutoff_date": dt.date(YEAR, 9, 30),
            "publication_days": 7, "appeal_days": 5,
        }]).scalar_one()
        category_ids: dict[str, int] = {}
        for code, zh, en, _share, sections in CATEGORIES:
            cid = conn.execute(insert(Category).returning(Category.id), [{
                "scheme_id": scheme_id, "code": code, "name_zh": zh, "name_en": en,
                "grade_rules": {"excellent_min": "90", "good_min": "80", "fair_min": "60",
                                "excellent_quota": "10%"},
            }]).scalar_one()
            category_ids[code] = cid
            conn.execute(insert(Section), [
                {"category_id": cid, "code": s, "name_zh": szh, "name_en": sen, "weight": Decimal(w)}
                for s, szh, sen, w in sections
            ])
        # Indicators: spread over the three sections so each section's full points add to 100
        # in proportion; the rule pack's section weights rescale them.
        section_cycle = ("quantitative", "quantitative", "key_work", "other")
        indicator_rows = []
        for i in range(indicators):
            method, direction, params = METHODS[i % len(METHODS)]
            indicator_rows.append({
                "scheme_id": scheme_id, "code": f"I{i + 1:03d}", "name_zh": f"指标{i + 1}",
                "name_en": f"Indicator {i + 1}", "section": section_cycle[i % len(section_cycle)],
                "measure": "%" if method == "step" else "万元", "direction": direction,
                "method": method, "points": Decimal(5), "params": params,
                "source_department": "省统计局" if i % 5 == 0 else None,
            })
        conn.execute(insert(Indicator), indicator_rows)
        indicator_ids = [r.id for r in conn.execute(
            select(Indicator.id).where(Indicator.scheme_id == scheme_id).order_by(Indicator.code))]
        bounds, start = [], 0
        for code, *_rest in CATEGORIES:
            share = next(c[3] for c in CATEGORIES if c[0] == code)
            count = max(1, round(units * share)) if code != CATEGORIES[-1][0] else units - start
            bounds.append((code, start, start + count))
            start += count
        unit_rows = []
        for code, lo, hi in bounds:
            for n in range(lo, hi):
                unit_rows.append({
                    "scheme_id": scheme_id, "code": f"U{n + 1:05d}", "name": f"单位{n + 1}",
                    "level": {"county": "county", "township": "township"}.get(code, "department"),
                    "category_id": category_ids[code], "parent_id": None,
                })
        conn.execute(insert(Unit), unit_rows)
        unit_ids = [r.id for r in conn.execute(
            select(Unit.id).where(Unit.scheme_id == scheme_id).order_by(Unit.code))]

    def target_rows() -> Iterator[dict[str, Any]]:
        for uid in unit_ids:
            for iid in indicator_ids:
                yield {"scheme_id": scheme_id, "unit_id": uid, "indicator_id": iid,
                       "annual_value": Decimal(rng.randint(100, 100_000)), "schedule_kind": "pro_rata",
                       "milestones": {}, "lead_unit_id": uid, "locked": True, "version": 1}

    n_targets = _bulk(engine, Target.__table__, target_rows())  # type: ignore[arg-type]
    with engine.connect() as conn:
        targets = conn.execute(
            select(Target.id, Target.unit_id, Target.annual_value).where(Target.scheme_id == scheme_id)
        ).all()
    unit_code = {uid: f"U{n + 1:05d}" for n, uid in enumerate(unit_ids)}

    def report_rows() -> Iterator[dict[str, Any]]:
        for tid, uid, annual in targets:
            pace = Decimal(rng.randint(55, 125)) / 100  # a tenth of the targets lag the schedule
            for month in range(1, 13):
                value = (annual * pace * month / 12).quantize(Decimal("0.0001"))
                yield {"target_id": tid, "period": f"{YEAR}-{month:02d}", "reported_value": value,
                       "source": unit_code[uid], "submitted_at": AT, "evidence_ref": None}

    n_reports = _bulk(engine, ProgressReport.__table__, report_rows())  # type: ignore[arg-type]

    def event_rows() -> Iterator[dict[str, Any]]:
        for n in range(events):
            kind, etype, levels = EVENT_SHAPES[n % len(EVENT_SHAPES)]
            level = rng.choice(levels)
            day = dt.date(YEAR, 1, 1) + dt.timedelta(days=rng.randint(0, 364))
            documented = kind != "honour" or rng.random() > 0.05
            yield {
                "scheme_id": scheme_id, "code": f"E{n + 1:06d}", "unit_id": rng.choice(unit_ids),
                "kind": kind, "event_type": etype, "level": level, "title": f"{etype} {n + 1}",
                "awarding_body": "省政府" if kind == "honour" else None,
                "document_no": f"文〔{YEAR}〕{n + 1}号" if documented else None,
                "document_date": day, "occurred_on": day, "work_year": YEAR,
                "dedupe_key": f"H{n // 2}" if kind == "honour" and n % 7 == 0 else None,
                "quantity": Decimal(rng.randint(1, 5000)) if kind == "project_claim" else Decimal(1),
                "verified_quantity": Decimal(0) if kind == "project_claim" and rng.random() < 0.7 else None,
            }

    n_events = _bulk(engine, Event.__table__, event_rows())  # type: ignore[arg-type]
    # Bulk inserts bypass the sessions that bind rows into the ledger: adopt them, as an upgraded
    # database would be, so that `kaohe audit verify` of the data set passes.
    with Session(engine) as session, session.begin():
        adopted = audit.adopt(session, actor=ADOPTED_BY)
    return {"units": len(unit_ids), "indicators": len(indicator_ids), "targets": n_targets,
            "reports": n_reports, "events": n_events, "adoption_events": len(adopted)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default=f"sqlite:///{Path('bench/data/province.db').resolve()}")
    parser.add_argument("--units", type=int, default=5000)
    parser.add_argument("--indicators", type=int, default=40)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args(argv)
    if args.url.startswith("sqlite:///"):
        Path(args.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(args.url)
    started = time.perf_counter()
    counts = generate(engine, args.units, args.indicators, args.events, args.seed)
    elapsed = time.perf_counter() - started
    print(" ".join(f"{k}={v}" for k, v in counts.items()), f"seconds={elapsed:.1f}", f"url={args.url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
