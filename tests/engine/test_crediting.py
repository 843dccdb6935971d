"""Every honour counts in exactly one year's run, or the runs that read it say why it counts in none.

The year runs are the engine's, over the snapshots the database's reading would give
(``engine.values.crediting``: a run reads its own scheme's events and, from the previous year's
scheme, the ones it must credit or refuse), for random work years, document dates, cut-offs
and the year of the scheme the office registered the honour in.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import evaluate
from engine.facts import EventFact
from engine.result import RunResult
from engine.run.snapshot_check import SnapshotError
from engine.values.crediting import (
    CARRIED_OVER,
    EARLIER,
    IN_YEAR,
    TOO_LATE,
    Crediting,
    PriorCutoffUnknown,
    crediting,
    read_from_previous_year,
)
from tests.engine.builders import event, pack, snapshot, unit

BONUS = """
rules:
  - id: honour
    version: 1
    kind: bonus
    on: event
    when: {kind: honour}
    effect: {points: 1}
    text: {zh: "{title} 加 {points} 分", en: "{title}: +{points}"}
"""
PACK = pack(BONUS)
WORK_YEARS = (2012, 2013, 2014)
RUN_YEARS = range(2011, 2017)  # every year a run could credit or refuse one of them


@dataclass(frozen=True)
class Honour:
    id: str
    work_year: int
    document_date: dt.date | None
    home: int  # the year of the scheme it is registered in


def _cutoffs() -> st.SearchStrategy[dict[int, dt.date]]:
    """A cut-off per year, from two months before its year's end to half a year after it."""
    offsets = st.lists(st.integers(-60, 181), min_size=len(RUN_YEARS) + 1, max_size=len(RUN_YEARS) + 1)
    years = [RUN_YEARS[0] - 1, *RUN_YEARS]
    return offsets.map(
        lambda o: {y: dt.date(y, 12, 31) + dt.timedelta(days=d) for y, d in zip(years, o, strict=True)}
    )


@st.composite
def _honours(draw: st.DrawFn) -> list[Honour]:
    out = []
    for i in range(draw(st.integers(1, 8))):
        work_year = draw(st.sampled_from(WORK_YEARS))
        document = draw(st.none() | st.dates(dt.date(work_year, 1, 1), dt.date(work_year + 2, 6, 30)))
        home = draw(st.integers(work_year - 1, work_year + 2))
        out.append(Honour(f"H{i}", work_year, document, home))
    return out


def _year_run(year: int, cutoffs: dict[int, dt.date], honours: list[Honour]) -> tuple[set[str], RunResult]:
    """The ids of the honours ``year``'s run reads, and its result."""
    read = [
        h for h in honours
        if h.home == year
        or (h.home == year - 1
            and read_from_previous_year(year, cutoffs[year], cutoffs[year - 1], h.work_year, h.document_date))
    ]
    facts = tuple(_fact(h) for h in read)
    snap = snapshot(events=facts, units=(unit("A", None),), cutoff=cutoffs[year],
                    prior_cutoff=cutoffs[year - 1])
    snap = dataclasses.replace(snap, year=year, period=str(year), scheme_code=f"T{year}")
    return {h.id for h in read}, evaluate(PACK, snap)


def _fact(h: Honour) -> EventFact:
    return event(h.id, "A", "honour", "honour", "provincial", document_date=h.document_date,
                 work_year=h.work_year)


def _crediting_year(h: Honour, cutoffs: dict[int, dt.date]) -> int | None:
    """The year whose run credits the honour, from its work year's view: by that year's cut-off
    its own; by the next year's, the next's; later, none."""
    d = h.document_date
    if d is None or d <= cutoffs[h.work_year]:
        return h.work_year
    return h.work_year + 1 if d <= cutoffs[h.work_year + 1] else None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cutoffs=_cutoffs(), honours=_honours())
def test_every_honour_is_credited_exactly_once_or_refused_with_the_reason(
    cutoffs: dict[int, dt.date], honours: list[Honour]
) -> None:
    credited: dict[str, list[int]] = {h.id: [] for h in honours}
    refused: dict[str, dict[int, str]] = {h.id: {} for h in honours}
    read_by: dict[str, list[int]] = {h.id: [] for h in honours}
    for year in RUN_YEARS:
        read, result = _year_run(year, cutoffs, honours)
        for hid in read:
            read_by[hid].append(year)
        for f in result.firings:
            credited[f.matched[0].id].append(year)
        for w in result.why_not:
            if w.reason == "no_facts":  # a run that read no honour
                continue
            assert w.reason == "timing" and len(w.fact_ids) == 1
            refused[w.fact_ids[0]][year] = w.text_en
    for h in honours:
        expected = _crediting_year(h, cutoffs)
        # Registered in its work year's scheme or in the crediting year's, it counts exactly there.
        if expected is not None and h.home in (h.work_year, expected):
            assert credited[h.id] == [expected], (h, cutoffs)
        else:
            assert credited[h.id] == [], (h, cutoffs)
        # Every run that read it and did not credit it says why; its own scheme's run reads it.
        assert h.home in read_by[h.id]
        assert sorted(refused[h.id]) == sorted(set(read_by[h.id]) - set(credited[h.id])), (h, cutoffs)
        late_run = refused[h.id].get(h.work_year + 1)
        if late_run is not None and h.document_date is not None:
            if expected == h.work_year:
                assert f"it counts in {h.work_year}'s run" in late_run
            elif expected is None:
                assert "too late to carry over" in late_run


def test_an_honour_documented_before_last_years_cutoff_counts_last_year() -> None:
    """The issue's case: 2012's work documented on 2013-01-08, 2012's cut-off 2013-02-28."""
    cut_2012, cut_2013 = dt.date(2013, 2, 28), dt.date(2014, 2, 28)
    documented = dt.date(2013, 1, 8)
    assert crediting(2012, cut_2012, dt.date(2012, 2, 29), 2012, documented) == Crediting(IN_YEAR, 2012)
    assert crediting(2013, cut_2013, cut_2012, 2012, documented) == Crediting(EARLIER, 2012)
    assert not read_from_previous_year(2013, cut_2013, cut_2012, 2012, documented)
    later = dt.date(2013, 3, 1)
    assert crediting(2013, cut_2013, cut_2012, 2012, later) == Crediting(CARRIED_OVER, 2013)
    assert read_from_previous_year(2013, cut_2013, cut_2012, 2012, later)
    assert crediting(2013, cut_2013, cut_2012, 2012, dt.date(2014, 3, 1)) == Crediting(TOO_LATE, None)


def test_last_years_cutoff_is_never_guessed() -> None:
    with pytest.raises(PriorCutoffUnknown, match="depends on 2012's cut-off, which is not known"):
        crediting(2013, dt.date(2014, 2, 28), None, 2012, dt.date(2013, 1, 8))
    # Nothing to decide without a document date, or for this year's work.
    assert crediting(2013, dt.date(2014, 2, 28), None, 2012, None) == Crediting(EARLIER, 2012)
    assert crediting(2013, dt.date(2014, 2, 28), None, 2013, dt.date(2013, 5, 1)).here


def test_a_snapshot_without_last_years_cutoff_is_refused_when_it_decides() -> None:
    late = event("L", "A", "honour", "honour", "provincial", work_year=2023,
                 document_date=dt.date(2024, 1, 18))
    refused = r"event L: work year 2023, documented 2024-01-18: .* 2023's cut-off"
    with pytest.raises(SnapshotError, match=refused):
        evaluate(PACK, snapshot(events=(late,), units=(unit("A", None),), prior_cutoff=None))
    undated = event("U", "A", "honour", "honour", "provincial", work_year=2023, document_date=None)
    result = evaluate(PACK, snapshot(events=(undated,), units=(unit("A", None),), prior_cutoff=None))
    assert [w.text_en for w in result.why_not] == [
        "work of 2023 with no document date: it counts in 2023's run"
    ]
