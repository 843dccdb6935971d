"""Run the benchmark year: BENCH-2024 from bench/generate.py through ``create_run``, timed.

    python bench/run_year.py [--url URL] [--units N] [--period 2024] [--commit] [--no-raw]

Stores and approves bench/province-pack.yaml if the database has no approved pack for the
scheme, runs the period through ``workflows.runs.create_run`` in one transaction (rolled back
unless ``--commit``: the data set stays as generated), and prints the facts, firings, wall seconds
(total and per phase), firings per second, peak memory (ru_maxrss) and — in the same process —
raw durable_rules posting as many messages to a one-rule ruleset, with the ratio of the two.
``--units N`` generates a fresh N-unit data set (in a temporary SQLite file, or into ``--url``,
which must then be empty) for a quick run. A progress bar goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from durable.engine import Host, MessageNotHandledException  # noqa: E402
from sqlalchemy import Engine, func, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402
from tqdm import tqdm  # type: ignore[import-untyped]  # noqa: E402

from bench.generate import SCHEME_CODE, generate  # noqa: E402
from engine.run.durable_host import host  # noqa: E402
from store import Event, ProgressReport, RulePack, Scheme, Target  # noqa: E402
from store import migrate as store_migrate  # noqa: E402
from store.db import make_engine, make_session_factory  # noqa: E402
from workflows.packs import approve_pack, store_pack  # noqa: E402
from workflows.runs import create_run  # noqa: E402

PACK = ROOT / "bench" / "province-pack.yaml"
DEFAULT_URL = f"sqlite:///{ROOT / 'bench' / 'data' / 'province.db'}"
STORED_BY, APPROVED_BY = "bench.office", "bench.director"


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_peak_rss_mb() -> float:
    """Peak resident memory of the largest waited-for child (worker processes), if any."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


class Phases:
    """A progress callback that times phases and drives one tqdm bar per long phase."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.started: dict[str, float] = {}
        self.order: list[str] = []
        self.bar: tqdm[Any] | None = None
        self.current: str | None = None
        self.peak_after: dict[str, float] = {}  # the process's peak memory when each phase ended
        self.usage: dict[str, tuple[float, float, int]] = {}  # phase → (user s, system s, faults)
        self._usage_at: tuple[float, float, int] | None = None

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if phase != self.current:
            if self.current is not None:
                self.peak_after[self.current] = peak_rss_mb()
            self._add_usage()
            self._close()
            self.current = phase
            self.started.setdefault(phase, now)
            self.order.append(phase)
            if not self.quiet:
                self.bar = tqdm(total=total, desc=f"{phase:>16}", unit="u" if total > 1 else "",
                                file=sys.stderr, leave=False, dynamic_ncols=True)
        if self.bar is not None:
            self.bar.n = done
            self.bar.refresh()

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def _add_usage(self) -> None:
        """CPU seconds (user, system) and page faults since the last phase change, this process and
        its waited-for workers together, added to the phase that was current."""
        now = _usage()
        if self.current is not None and self._usage_at is not None:
            was = self.usage.get(self.current, (0.0, 0.0, 0))
            self.usage[self.current] = tuple(  # type: ignore[assignment]
                a + b - c for a, b, c in zip(was, now, self._usage_at, strict=True)
            )
        self._usage_at = now

    def finish(self, end: float) -> dict[str, float]:
        if self.current is not None:
            self.peak_after[self.current] = peak_rss_mb()
        self._add_usage()
        self._close()
        spans: dict[str, float] = {}
        for i, phase in enumerate(self.order):
            stop = self.started[self.order[i + 1]] if i + 1 < len(self.order) else end
            spans[phase] = spans.get(phase, 0.0) + stop - self.started[phase]
        return spans


def _usage() -> tuple[float, float, int]:
    """User and system CPU seconds and minor page faults of this process and its waited-for
    children. On a virtual machine a page fault can cost microseconds (first touch, copy-on-write
    after a fork): the faults explain where system time goes."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return (me.ru_utime + children.ru_utime, me.ru_stime + children.ru_stime,
            me.ru_minflt + children.ru_minflt)


def ensure_pack(session: Session) -> str:
    """The approved pack for BENCH-2024: the stored one, else bench/province-pack.yaml stored now."""
    approved = session.scalars(
        select(RulePack).where(RulePack.scheme_code == SCHEME_CODE, RulePack.status == "approved")
    ).first()
    if approved is not None:
        return f"{approved.name}@{approved.version}"
    stored = store_pack(session, PACK.read_text(encoding="utf-8"), PACK.name, actor=STORED_BY).row
    ref = f"{stored.name}@{stored.version}"
    if stored.status == "draft":
        approve_pack(session, ref, approver=APPROVED_BY)
    return ref


def fact_counts(session: Session) -> dict[str, int]:
    scheme_id = session.scalars(select(Scheme.id).where(Scheme.code == SCHEME_CODE)).one()
    targets = session.scalar(select(func.count()).where(Target.scheme_id == scheme_id)) or 0
    reports = session.scalar(
        select(func.count()).select_from(ProgressReport)
        .join(Target, ProgressReport.target_id == Target.id).where(Target.scheme_id == scheme_id)
    ) or 0
    events = session.scalar(select(func.count()).where(Event.scheme_id == scheme_id)) or 0
    return {"targets": targets, "reports": reports, "events": events}


def vacuum_run_tables(engine: Engine) -> None:
    """PostgreSQL: make the space of earlier rolled-back runs reusable (untimed). Each rolled-back
    province run leaves 709,337 dead firing rows behind; ten runs later the table and its indexes
    hold 7 GB of them and a run is slower by 5 s — so every run starts from the same state."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM firing, cut, score_sheet, run_snapshot, run")


class _RawHost(Host):  # type: ignore[misc]
    def _run(self) -> None:
        """No dispatcher thread, as in the engine and the notes' measurements."""


# Phases that are not the engine's evaluation: reading the facts, writing the run row and snapshot,
# making and writing the firings (their texts and canonical forms are made by workers meanwhile),
# the score sheets, cuts and ledger event, the commit.
_NOT_EVALUATE = ("snapshot", "store", "firings", "ledger", "commit")


def raw_durable(messages: int) -> dict[str, float]:
    """Post ``messages`` events to a one-rule ruleset in one sid, about half of them firing."""
    fired = [0]

    def action(c: Any) -> None:
        fired[0] += 1

    h = _RawHost()
    name = f"bench_raw_{os.getpid()}_{time.monotonic_ns()}"
    h.register_rulesets({name: {"r": {"all": [{"m": {"$lt": {"v": 50}}}], "run": action}}})
    started = time.perf_counter()
    for i in range(messages):
        with contextlib.suppress(MessageNotHandledException):
            h.post(name, {"sid": "1", "id": i, "v": i % 100})
    seconds = time.perf_counter() - started
    return {"messages": messages, "firings": fired[0], "seconds": seconds,
            "messages_per_s": messages / seconds if seconds else 0.0}


@contextlib.contextmanager
def database(url: str | None, units: int | None) -> Iterator[str]:
    """The database to run on: as given, or a fresh ``units``-unit data set."""
    if units is None:
        yield url or DEFAULT_URL
        return
    if url is not None:
        _generate(url, units)
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="kaohe-bench-") as tmp:
        small = f"sqlite:///{Path(tmp) / 'bench.db'}"
        _generate(small, units)
        yield small


def _generate(url: str, units: int) -> None:
    engine = make_engine(url)
    try:
        generate(engine, units, 40, max(units * 2, 10), seed=2024)
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default=None, help=f"database (default {DEFAULT_URL})")
    parser.add_argument("--units", type=int, default=None, help="generate a small data set of N units")
    parser.add_argument("--period", default="2024")
    parser.add_argument("--commit", action="store_true", help="keep the run (default: roll back)")
    parser.add_argument("--no-raw", action="store_true", help="skip the raw durable_rules comparison")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    with database(args.url, args.units) as url:
        engine = make_engine(url)
        store_migrate.upgrade(engine)  # a data set generated before the latest migrations
        sessions = make_session_factory(engine)
        with sessions.begin() as session:
            pack_ref = ensure_pack(session)
        with sessions() as session:
            facts = fact_counts(session)
            session.rollback()
        vacuum_run_tables(engine)
        phases = Phases(args.quiet)
        messages_before = host().messages
        with sessions() as session:
            cpu_before = os.times()
            started = time.perf_counter()
            outcome = create_run(session, SCHEME_CODE, args.period, actor=STORED_BY, progress=phases)
            if args.commit:
                phases("commit", 0, 1)
                session.commit()
            else:
                session.rollback()
            ended = time.perf_counter()
            cpu_after = os.times()
        spans = phases.finish(ended)
        messages = host().messages - messages_before
        firings = outcome.result.firing_count
        run_id, run_hash = outcome.run.id, outcome.result.run_hash
        del outcome
        engine.dispose()

    total = ended - started
    cpu = {
        "process": round((cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system), 1),
        "workers": round(
            (cpu_after.children_user + cpu_after.children_system)
            - (cpu_before.children_user + cpu_before.children_system), 1),
    }
    evaluate_s = sum(v for k, v in spans.items() if k not in _NOT_EVALUATE)
    figures: dict[str, Any] = {
        "url": url.split("@")[-1] if "@" in url else url,
        "pack": pack_ref,
        "period": args.period,
        "facts": facts,
        "firings": firings,
        "durable_messages": messages,
        "seconds": {"total": round(total, 2), "snapshot": round(spans.get("snapshot", 0.0), 2),
                    "evaluate": round(evaluate_s, 2), "store": round(spans.get("store", 0.0), 2),
                    "firings": round(spans.get("firings", 0.0), 2),
                    "ledger": round(spans.get("ledger", 0.0), 2),
                    "commit": round(spans.get("commit", 0.0), 2)},
        "evaluate_phases": {k: round(v, 2) for k, v in spans.items()
                            if k not in _NOT_EVALUATE},
        "cpu_seconds": cpu,
        "phase_usage": {k: {"user": round(u, 1), "system": round(sy, 1), "page_faults": n}
                        for k, (u, sy, n) in phases.usage.items()},
        "firings_per_s": round(firings / total) if total else 0,
        "peak_rss_mb": round(peak_rss_mb()),
        "peak_rss_mb_after": {k: round(v) for k, v in phases.peak_after.items()},
        "children_peak_rss_mb": round(children_peak_rss_mb()),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "run": {"id": run_id, "run_hash": run_hash, "committed": args.commit},
    }
    if not args.no_raw and messages:
        raw = raw_durable(messages)
        figures["raw_durable"] = {k: round(v, 2) for k, v in raw.items()}
        figures["engine_over_raw"] = round(evaluate_s / raw["seconds"], 2) if raw["seconds"] else None
        figures["engine_and_firings_over_raw"] = (
            round((evaluate_s + spans.get("firings", 0.0)) / raw["seconds"], 2) if raw["seconds"] else None
        )
        figures["total_over_raw"] = round(total / raw["seconds"], 2) if raw["seconds"] else None
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
    else:
        _print(figures)
    return 0


def _print(f: dict[str, Any]) -> None:
    s = f["seconds"]
    print(f"database        {f['url']}  pack {f['pack']}  period {f['period']}")
    print("facts           " + ", ".join(f"{k} {v:,}" for k, v in f["facts"].items()))
    print(f"firings         {f['firings']:,}  (durable messages {f['durable_messages']:,})")
    print(f"wall seconds    total {s['total']}  snapshot {s['snapshot']}  evaluate {s['evaluate']}"
          f"  store {s['store']}  firings {s['firings']}  ledger {s['ledger']}"
          + (f"  commit {s['commit']}" if s["commit"] else ""))
    print("evaluate phases " + ", ".join(f"{k} {v}" for k, v in f["evaluate_phases"].items()))
    cpu = f["cpu_seconds"]
    print(f"cpu seconds     this process {cpu['process']}, match workers {cpu['workers']}")
    print("cpu user/system " + ", ".join(
        f"{k} {v['user']}/{v['system']} ({v['page_faults'] / 1000:,.0f}k faults)"
        for k, v in f["phase_usage"].items()))
    print(f"firings/s       {f['firings_per_s']:,}")
    print(f"peak memory     {f['peak_rss_mb']:,} MB (largest worker {f['children_peak_rss_mb']:,} MB)")
    print("peak after      " + ", ".join(f"{k} {v:,}" for k, v in f["peak_rss_mb_after"].items()))
    if "raw_durable" in f:
        r = f["raw_durable"]
        print(f"raw durable     {int(r['messages']):,} posts, {int(r['firings']):,} firings in "
              f"{r['seconds']} s ({int(r['messages_per_s']):,} messages/s)")
        print(f"engine / raw    {f['engine_over_raw']}  (evaluate seconds / raw seconds); with the "
              f"firings made and written {f['engine_and_firings_over_raw']}; whole run {f['total_over_raw']}")
    print(f"load average    {' '.join(str(x) for x in f['load_average'])}")
    print(f"run             {f['run']['id']} {f['run']['run_hash']}"
          + ("" if f["run"]["committed"] else " (rolled back)"))


if __name__ == "__main__":
    sys.exit(main())
