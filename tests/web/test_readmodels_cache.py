"""The per-process cache of a unit's part of a run (workflows.readmodels.unit_part): what it serves
is what the stored rows say, a superseding run is never answered from the run it replaced, and
another database never shares an entry."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import explain, render_explanation
from store import Cut, Firing, Run, ScoreSheet, make_engine
from tests.audit_support import tamper
from tests.web.conftest import login, make_app
from workflows import readmodels as rm
from workflows.cases.supersede import override_for, supersede
from workflows.runs import load_result

RUN = 2  # the demo's year-end run (2024)
CRITICISM_SEQ = 122  # C03's deduction.criticism, −4 (tests/cases/test_publication_appeals.py)


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    rm.clear_unit_cache()
    yield
    rm.clear_unit_cache()


@pytest.fixture
def demo_session(module_demo_url: str) -> Iterator[Session]:
    engine = make_engine(module_demo_url)
    with Session(engine) as session:
        yield session
    engine.dispose()


def _columns(row: object, names: tuple[str, ...]) -> tuple[object, ...]:
    return tuple(getattr(row, n) for n in names)


def test_a_units_part_is_its_stored_rows_and_says_what_the_whole_run_says(demo_session: Session) -> None:
    s = demo_session
    run = rm.get_run(s, RUN)
    whole = load_result(s, run)  # every row, re-hashed to the run hash: the reference
    units = [sheet.unit for sheet in s.scalars(select(ScoreSheet).where(ScoreSheet.run_id == RUN))]
    assert len(units) == 75
    firing_names = tuple(f.name for f in dataclasses.fields(rm.FiringView) if f.name != "unit")
    sheet_names = tuple(f.name for f in dataclasses.fields(rm.SheetView) if f.name != "unit")
    cut_names = tuple(f.name for f in dataclasses.fields(rm.CutView))
    for unit in units:
        part = rm.unit_part(s, run, unit)
        mine = (Firing.run_id == RUN, Firing.unit_id == unit.id)
        stored = list(s.scalars(select(Firing).where(*mine).order_by(Firing.seq)))
        assert [_columns(f, firing_names) for f in part.firings] == [_columns(f, firing_names)
                                                                      for f in stored]
        sheet = s.scalars(select(ScoreSheet).where(ScoreSheet.run_id == RUN,
                                                   ScoreSheet.unit_id == unit.id)).one()
        assert part.sheet is not None and _columns(part.sheet, sheet_names) == _columns(sheet, sheet_names)
        cuts = s.scalars(select(Cut).where(Cut.run_id == RUN, Cut.unit_id == unit.id).order_by(Cut.seq))
        assert [_columns(c, cut_names) for c in part.cuts] == [_columns(c, cut_names) for c in cuts]
        for lang in ("zh", "en"):
            assert part.explanation_text(None, lang) == render_explanation(explain(whole, unit.code), lang)
        assert rm.unit_part(s, run, unit) is part  # the second read is the cached entry
        fresh = rm.unit_part(s, run, unit, cached=False)
        assert fresh is not part and fresh.firings == part.firings and fresh.sheet == part.sheet
        assert fresh.explanation_text(None, "zh") == part.explanation_text(None, "zh")
    assert rm.cache_stats == {"hits": len(units), "misses": len(units)}


def test_an_indicators_explanation_matches_the_whole_runs(demo_session: Session) -> None:
    s = demo_session
    run = rm.get_run(s, RUN)
    whole = load_result(s, run)
    unit = rm.get_unit(s, run.scheme, "C03")
    part = rm.unit_part(s, run, unit)
    indicators = sorted({f.indicator_code for f in part.firings if f.indicator_code})
    assert len(indicators) > 3
    for code in indicators:
        assert part.explanation_text(code, "en") == render_explanation(explain(whole, "C03", code), "en")
        assert part.explanation_text(code, "en") != part.explanation_text(None, "en")


def _get(client: FlaskClient, path: str) -> Any:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_json()


_CSRF_VALUE = re.compile(r'(name="csrf_token"[^>]*? value=")[^"]*(")')


def _page(client: FlaskClient, path: str) -> str:
    """The page's HTML without its CSRF token, which is signed with the second it was made in."""
    return _CSRF_VALUE.sub(r"\1…\2", client.get(path).get_data(as_text=True))


def test_the_api_answers_the_same_from_the_cache_and_without_it(shared_app: Flask) -> None:
    client = shared_app.test_client()
    login(client, "auditor")
    units = ("C01", "C03", "D01")
    paths = [f"/api/v1/runs/{RUN}/units/{code}/explanation?lang={lang}"
             for code in units for lang in ("zh", "en")]
    paths += [f"/api/v1/runs/{RUN}/score-sheets/{code}" for code in ("C01", "D01")]
    cold = {p: _get(client, p) for p in paths}
    misses = rm.cache_stats["misses"]
    assert misses == 3  # one read per unit, whatever the endpoint or language
    warm = {p: _get(client, p) for p in paths}
    assert warm == cold and rm.cache_stats["misses"] == misses and rm.cache_stats["hits"] >= len(paths)
    page = _page(client, f"/runs/{RUN}/units/C03")
    rm.clear_unit_cache()
    assert _page(client, f"/runs/{RUN}/units/C03") == page
    assert {p: _get(client, p) for p in paths} == cold


def test_a_superseding_run_is_not_answered_from_the_superseded_runs(app: Flask, demo_url: str) -> None:
    client = app.test_client()
    login(client, "auditor")
    old_path = f"/api/v1/runs/{RUN}/units/C03/explanation?lang=en"
    before = _get(client, old_path)
    old_sheet = _get(client, f"/api/v1/runs/{RUN}/score-sheets/C03")
    engine = make_engine(demo_url)
    with Session(engine) as s, s.begin():
        run = s.get(Run, RUN)
        assert run is not None
        criticism = s.scalars(select(Firing).where(Firing.run_id == RUN, Firing.seq == CRITICISM_SEQ)).one()
        new = supersede(s, run, [override_for(criticism, "void", None, "test:cache")], actor="office.li",
                        at=dt.datetime(2025, 2, 1, tzinfo=dt.UTC))
        new_id = new.id
    engine.dispose()
    after = _get(client, f"/api/v1/runs/{new_id}/units/C03/explanation?lang=en")
    new_sheet = _get(client, f"/api/v1/runs/{new_id}/score-sheets/C03")
    voided = [f for f in after["firings"] if f["seq"] == CRITICISM_SEQ]
    assert [(f["status"], Decimal(f["points"])) for f in voided] == [("voided", Decimal(0))]
    assert Decimal(new_sheet["total"]) - Decimal(old_sheet["total"]) == 4
    assert after["text"] != before["text"] and after["run"] == new_id
    # The superseded run still answers with its own rows, from its own entry.
    assert _get(client, old_path) == before
    engine = make_engine(demo_url)
    with Session(engine) as s:
        new_run = rm.get_run(s, new_id)
        uncached = rm.unit_part(s, new_run, rm.get_unit(s, new_run.scheme, "C03"), cached=False)
        assert after["text"] == uncached.explanation_text(None, "en")
        assert render_explanation(explain(load_result(s, new_run), "C03"), "en") == after["text"]
    engine.dispose()


def test_another_database_with_the_same_run_id_has_its_own_entries(demo_url: str, module_demo_url: str,
                                                                   tmp_path: Path) -> None:
    """Two copies of the demo (same run ids, hashes and times); one has a firing's text changed
    behind the application's back. Each app answers from its own database."""
    engine = make_engine(demo_url)
    with Session(engine) as s, s.begin():
        tamper(s, "firing", "UPDATE firing SET text_en = 'changed behind the cache' WHERE run_id = :run "
               "AND seq = :seq", run=RUN, seq=CRITICISM_SEQ)
    engine.dispose()
    answers: list[dict[int, str]] = []
    for url in (module_demo_url, demo_url):
        app, app_engine = make_app(url, tmp_path / str(len(answers)))
        client = app.test_client()
        login(client, "auditor")
        data = _get(client, f"/api/v1/runs/{RUN}/units/C03/explanation?lang=en")
        answers.append({f["seq"]: f["text_en"] for f in data["firings"]})
        app_engine.dispose()
    assert answers[1][CRITICISM_SEQ] == "changed behind the cache"
    assert answers[0][CRITICISM_SEQ] != "changed behind the cache"
    assert rm.cache_stats["misses"] == 2
