"""The demo city: a deterministic generator, and ``kaohe demo`` loading it through the importer."""

from __future__ import annotations

import importlib.util
import io
import sys
import zipfile
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from store.models import (
    Category,
    Event,
    Indicator,
    ProgressReport,
    Scheme,
    Section,
    Target,
    TargetCoUnit,
    Unit,
)
from tests.cli_support import cli_runner
from web.cli.demo import DEMO_DIR, table_counts
from web.cli.main import main
from workflows.demo import DEMO_FILES, load_demo

CITY = DEMO_DIR / "city"


def _generator() -> ModuleType:
    """demo/generate.py is a script beside the packages, not one of them: load it by path."""
    name = "kaohe_demo_generate"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, DEMO_DIR / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def test_generator_is_deterministic(tmp_path: Path) -> None:
    generate = _generator().generate
    first = generate(tmp_path / "a")
    second = generate(tmp_path / "b")
    assert [p.name for p in first] == [name for name, _ in DEMO_FILES]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), f"{a.name} differs between two runs"
    core = _members((tmp_path / "a" / "scheme.xlsx").read_bytes())["docProps/core.xml"].decode()
    assert "2024-01-02T09:00:00Z" in core
    with zipfile.ZipFile(tmp_path / "a" / "targets.xlsx") as archive:
        assert {info.date_time for info in archive.infolist()} == {(2024, 1, 2, 9, 0, 0)}


def test_committed_files_are_what_the_generator_writes(tmp_path: Path) -> None:
    """Change demo/generate.py, then run it: the committed files must follow."""
    for path in _generator().generate(tmp_path):
        committed = (CITY / path.name).read_bytes()
        if path.suffix == ".xlsx":  # compare contents, not the deflate stream of this zlib
            assert _members(committed) == _members(path.read_bytes()), path.name
        else:
            assert committed == path.read_bytes(), path.name


def test_file_encodings() -> None:
    progress = (CITY / "progress.csv").read_bytes()
    assert not progress.startswith(b"\xef\xbb\xbf")
    assert progress.decode("gb18030").startswith("方案代码,单位代码,指标代码,报送期,累计完成值")
    events = (CITY / "events.csv").read_bytes()
    assert events.startswith(b"\xef\xbb\xbf")
    assert events.decode("utf-8-sig").startswith("方案代码,事项编号,单位代码")


@pytest.fixture
def run_cli(fresh_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    with cli_runner(fresh_url, tmp_path, monkeypatch) as runner:
        yield runner


def _scalar(session: Session, stmt: Any) -> Any:
    return session.scalar(stmt)


def test_kaohe_demo_loads_the_city(run_cli: CliRunner, engine: Engine) -> None:
    result = run_cli.invoke(main, ["demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "DEMO-2024" in result.output and "progress_report" in result.output
    assert "not part of this release" not in result.output
    assert "reporter" in result.output and "demo-reporter-2024" in result.output

    with Session(engine) as s:
        scheme = s.scalars(select(Scheme).where(Scheme.code == "DEMO-2024")).one()
        assert (scheme.year, str(scheme.cutoff_date), str(scheme.adjustment_cutoff_date)) == (
            2024, "2024-12-31", "2024-09-30")
        assert (scheme.publication_days, scheme.appeal_days) == (7, 5)

        per_category = Counter(s.execute(select(Category.code).join(Unit, Unit.category_id == Category.id)
                                         ).scalars())
        assert per_category["county"] == 9
        assert 45 <= per_category["department"] <= 50
        assert 16 <= per_category["stationed"] <= 20
        levels = Counter(s.scalars(select(Unit.level).where(Unit.code.like("C%"))))
        assert levels == {"county": 4, "district": 5}
        for category in s.scalars(select(Category)):
            assert sum(sec.weight for sec in category.sections) == 100, category.code
            assert {"excellent_min", "good_min", "fair_min", "excellent_quota"} <= set(category.grade_rules)

        indicators = {i.code: i for i in s.scalars(select(Indicator))}
        assert 40 <= len(indicators) <= 60
        assert {i.method for i in indicators.values()} >= {
            "pass_fail", "proportional", "step", "ranking_decay", "control_line", "lower_better", "rubric"}
        assert (indicators["CQ11"].direction, indicators["CQ11"].method) == ("lower", "lower_better")
        assert (indicators["CQ16"].direction, indicators["CQ16"].method) == ("control_line", "control_line")
        assert indicators["CQ04"].params == {"ceiling": "1.2"}

        county_targets = Counter(s.scalars(select(Unit.code).join(Target, Target.unit_id == Unit.id)
                                           .where(Unit.code.like("C%"))))
        assert len(county_targets) == 9 and all(25 <= n <= 30 for n in county_targets.values())
        assert _scalar(s, select(func.count()).select_from(Target)
                       .where(Target.schedule_kind == "milestones")) > 0
        assert _scalar(s, select(func.count(func.distinct(TargetCoUnit.target_id)))) >= 3

        # Every unit's targets fill each of its category's sections to the section's weight.
        weights = {(sec.category.code, sec.code): sec.weight for sec in s.scalars(select(Section))}
        filled: dict[tuple[str, str, str], Decimal] = {}
        for unit_code, cat_code, section, points in s.execute(
                select(Unit.code, Category.code, Indicator.section, Indicator.points)
                .join(Target, Target.unit_id == Unit.id).join(Indicator, Target.indicator_id == Indicator.id)
                .join(Category, Unit.category_id == Category.id)):
            key = (unit_code, cat_code, section)
            filled[key] = filled.get(key, Decimal(0)) + points
        assert len({u for u, _c, _s in filled}) == sum(per_category.values())
        assert all(weights[(c, sec)] == total for (_u, c, sec), total in filled.items())

        periods = set(s.scalars(select(ProgressReport.period).distinct()))
        assert periods == {f"2024-{m:02d}" for m in range(1, 13)}
        months_per_target = Counter(s.scalars(select(ProgressReport.target_id)
                                              .where(ProgressReport.source != "市统计局")))
        assert Counter(months_per_target.values()).keys() <= {2, 12}  # scores: June and December
        assert _scalar(s, select(func.count()).where(ProgressReport.source == "市统计局")) > 0
        assert _scalar(s, select(func.count()).where(ProgressReport.verified_value.is_not(None))) > 0

        events = {e.code: e for e in s.scalars(select(Event))}
        assert events["HON-02"].dedupe_key == events["HON-03"].dedupe_key is not None
        assert events["HON-02"].level != events["HON-03"].level
        carried = events["HON-04"]
        assert carried.work_year == 2023 and carried.document_date is not None
        assert carried.document_date.year == 2024
        assert events["HON-05"].kind == "honour" and events["HON-05"].document_no is None
        accident = events["INC-01"]
        assert (accident.event_type, accident.quantity) == ("safety_accident", Decimal(3))
        assert events["INC-02"].event_type == "environmental_incident"
        criticism = {e.level for e in events.values() if e.event_type == "criticism"}
        assert criticism >= {"county", "municipal", "provincial"}
        assert len({e.level for e in events.values() if e.event_type == "petition"}) >= 3
        assert {"media_exposure", "late_report"} <= {e.event_type for e in events.values()}
        claims = [e for e in events.values() if e.kind == "project_claim"]
        assert len(claims) == 18 and all(c.quantity is not None and c.quantity >= 1000 for c in claims)
        cut = [c for c in claims if c.verified_quantity is not None and c.quantity is not None
               and c.verified_quantity < c.quantity]
        assert len(cut) == 13 and all(c.verified_by and c.verification_note for c in cut)


def test_loading_twice_changes_nothing(run_cli: CliRunner, engine: Engine) -> None:
    first = run_cli.invoke(main, ["demo", "--no-serve"])
    assert first.exit_code == 0, first.output
    counts = table_counts(engine)
    second = run_cli.invoke(main, ["demo", "--no-serve"])
    assert second.exit_code == 0, second.output
    assert "already loaded: nothing imported" in second.output
    assert "http://127.0.0.1:5000/" in second.output
    assert table_counts(engine) == counts


def test_reimporting_the_files_is_harmless(session: Session) -> None:
    """Even past the CLI's check, the importer finds every row unchanged the second time."""
    load_demo(session, CITY)
    again = load_demo(session, CITY)
    assert sum(s.created + s.updated for s in again) == 0
    assert sum(s.unchanged for s in again) > 5000


def test_missing_files_are_named(session: Session, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"scheme\.xlsx"):
        load_demo(session, tmp_path)


def test_readme_lists_every_indicator_and_special_case() -> None:
    readme = (DEMO_DIR / "README.md").read_text(encoding="utf-8")
    gen = _generator()
    for ind in gen.INDICATORS:
        assert f"| `{ind.code}` | {ind.name_zh} |" in readme, ind.code
    assert f"## Indicators ({len(gen.INDICATORS)})" in readme
    for code in ("HON-02", "HON-03", "HON-04", "HON-05", "HON-18", "INC-01", "INC-02", "PRJ-18"):
        assert f"`{code}`" in readme
    for unit, indicator in gen.LAG_CASES:
        assert f"`{unit}`" in readme and f"`{indicator}`" in readme
