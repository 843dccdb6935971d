"""Honours across two years' real runs: each counts in exactly one year's run (结转), and the
previous year's cut-off that decides it is never guessed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.result import RunResult
from store import Category, Event, Scheme, Section, Unit
from tests.import_files import SCHEME, write_csv
from workflows.errors import Invalid
from workflows.imports import ImportRejected, import_file
from workflows.packs import approve_pack, store_pack
from workflows.runs import create_run, replay

PACK = """pack: honours-{year}
version: 1
scheme: T{year}
rules:
  - id: honour
    version: 1
    kind: bonus
    on: event
    when: {{kind: honour}}
    effect: {{points: {{by: level, table: {{national: 2, provincial: 1}}}}}}
    text: {{zh: "{{title}} 加 {{points}} 分", en: "{{title}}: +{{points}}"}}
"""


def _scheme(session: Session, year: int, cutoff: dt.date, previous: dt.date | None = None) -> Scheme:
    scheme = Scheme(code=f"T{year}", year=year, name=f"{year}年度考核办法", status="draft",
                    cutoff_date=cutoff, previous_cutoff_date=previous, publication_days=7, appeal_days=5)
    county = Category(scheme=scheme, code="county", name_zh="县区", name_en="Counties", grade_rules={})
    session.add_all([
        scheme, county,
        Section(category=county, code="other", name_zh="其他", name_en="Other", weight=Decimal(100)),
        Unit(scheme=scheme, code="C01", name="东岭县", level="county", category=county),
    ])
    session.flush()
    store_pack(session, PACK.format(year=year), f"honours-{year}.yaml", actor="office.li")
    approve_pack(session, f"honours-{year}@1", approver="director.wang")
    return scheme


def _honour(session: Session, scheme: Scheme, code: str, work_year: int, documented: dt.date,
            document_no: str) -> None:
    unit = next(u for u in session.query(Unit).filter_by(scheme_id=scheme.id, code="C01"))
    session.add(Event(scheme=scheme, code=code, unit=unit, kind="honour", event_type="honour",
                      level="provincial", title=f"省级示范县{code}", document_no=document_no,
                      document_date=documented, work_year=work_year))
    session.flush()


def _year(session: Session, code: str, year: int) -> RunResult:
    run = create_run(session, code, str(year), actor="office.li").run
    report, result = replay(session, run)  # the why-nots, which a stored run does not keep
    assert report.identical
    return result


def _credited(result: RunResult) -> list[str]:
    return [f.matched[0].id for f in result.firings if f.rule_id == "honour"]


def _refused(result: RunResult) -> dict[str, str]:
    return {w.fact_ids[0]: w.text_en for w in result.why_not if w.fact_ids}


def test_an_honour_documented_before_last_years_cutoff_counts_last_year(session: Session) -> None:
    """2012's work documented on 2013-01-08, before 2012's cut-off of 2013-02-28: 2012's run read
    events only up to 31 December and 2013's called it "earlier", so neither year counted it."""
    s2012 = _scheme(session, 2012, dt.date(2013, 2, 28), previous=dt.date(2012, 2, 29))
    s2013 = _scheme(session, 2013, dt.date(2014, 2, 28))
    _honour(session, s2012, "H-JAN", 2012, dt.date(2013, 1, 8), "省〔2013〕1号")
    # The office registered the same kind of late honour in either year's scheme:
    _honour(session, s2012, "H-MAR", 2012, dt.date(2013, 3, 10), "省〔2013〕7号")  # after 2012's cut-off
    _honour(session, s2013, "H-FEB", 2012, dt.date(2013, 2, 1), "省〔2013〕3号")  # 2012's, in 2013's scheme

    run_2012 = _year(session, "T2012", 2012)
    assert _credited(run_2012) == ["H-JAN"]
    assert _refused(run_2012) == {"H-MAR": "awarded after the cut-off (2013-02-28): carried over to 2013"}

    run_2013 = _year(session, "T2013", 2013)
    assert _credited(run_2013) == ["T2012/H-MAR"]  # read from 2012's scheme: it carries over to 2013
    assert _refused(run_2013) == {
        "H-FEB": "work of 2012, not documented after 2012's cut-off (2013-02-28): it counts in 2012's run"
    }
    assert run_2013.sheets[0].credited_events == ("T2012/H-MAR",)


def test_last_years_cutoff_comes_from_its_scheme_or_the_setting_never_a_guess(session: Session) -> None:
    s2013 = _scheme(session, 2013, dt.date(2014, 2, 28))
    _honour(session, s2013, "H-OLD", 2012, dt.date(2013, 1, 8), "省〔2013〕1号")
    # No 2012 scheme and no setting: before, the run took 2013-02-28 silently.
    with pytest.raises(Invalid, match=r"scheme T2013: 1 event\(s\) of work year 2012 with a document date "
                       r"\(H-OLD \(C01, 2013-01-08\)\) .* no scheme of 2012 is in the database: set the "
                       r"scheme's previous_cutoff_date"):
        create_run(session, "T2013", "2013", actor="office.li")

    s2013.previous_cutoff_date = dt.date(2012, 12, 31)
    assert _credited(_year(session, "T2013", 2013)) == ["H-OLD"]  # carried over from 2012

    _scheme(session, 2012, dt.date(2013, 2, 28))  # now 2012's scheme is here, with another cut-off
    with pytest.raises(Invalid, match="previous_cutoff_date 2012-12-31 is not the cut-off of 2012's scheme "
                       r"T2012 \(2013-02-28\)"):
        create_run(session, "T2013", "2013", actor="office.li")
    s2013.previous_cutoff_date = None
    assert "H-OLD" in _refused(_year(session, "T2013", 2013))  # 2012's, by 2012's own cut-off


def test_the_scheme_sheet_sets_previous_cutoff_date_and_refuses_one_not_before_the_cutoff(
    session: Session, tmp_path: Path
) -> None:
    bad = [{**SCHEME[0], "previous_cutoff_date": "2024-12-31"}]
    with pytest.raises(ImportRejected) as info:
        import_file(session, write_csv(tmp_path / "scheme.csv", "scheme", bad))
    assert [str(e) for e in info.value.errors] == [
        "scheme.csv: sheet scheme, row 2, column previous_cutoff_date: the previous year's cut-off "
        "2024-12-31 is not before this scheme's cut-off 2024-12-31"]
    good = [{**SCHEME[0], "previous_cutoff_date": "2023-12-31"}]
    assert import_file(session, write_csv(tmp_path / "scheme.csv", "scheme", good))["scheme"].created == 1
    assert session.scalars(select(Scheme.previous_cutoff_date)).one() == dt.date(2023, 12, 31)
