"""The workflow pages: the queue's batch form (CSRF, per-case errors, four eyes), case detail, the
explanation's case history, appeal filing inside the window with evidence, appeal review, rule
pack diff and impact, and the audit ledger with its verify button and export link."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from store import Case, Firing, make_engine
from tests.web.conftest import csrf_token, login
from workflows.accounts import create_account
from workflows.cases import open_cases

RUN = 2
PDF = b"%PDF-1.4\n%evidence\n%%EOF\n"


def _client(app: Flask, username: str, password: str | None = None) -> FlaskClient:
    client = app.test_client()
    login(client, username, password)
    return client


def _cases(url: str, run: int = RUN) -> list[tuple[int, int]]:
    engine = make_engine(url)
    with Session(engine) as s:
        query = select(Case).where(Case.run_id == run).order_by(Case.id)
        rows = [(c.id, c.version) for c in s.scalars(query)]
    engine.dispose()
    return rows


def _open(url: str, actor: str = "office", run: int = RUN) -> None:
    engine = make_engine(url)
    with Session(engine) as s, s.begin():
        open_cases(s, run, actor=actor)
    engine.dispose()


def _batch(client: FlaskClient, action: str, cases: list[tuple[int, int]], state: str,
           **extra: str) -> object:
    token = csrf_token(client, f"/runs/{RUN}/cases?state={state}")
    data = {"csrf_token": token, "action": action, "case": [f"{i}:{v}" for i, v in cases], **extra}
    return client.post(f"/runs/{RUN}/cases?state={state}", data=data)


def test_queue_batch_review_and_approval_with_per_case_errors(app: Flask, demo_url: str) -> None:
    _open(demo_url)
    cases = _cases(demo_url)[:5]
    auditor = _client(app, "auditor")
    page = auditor.get(f"/runs/{RUN}/cases")
    assert page.status_code == 200 and 'id="queue-form"' in page.get_data(as_text=True)
    no_csrf = auditor.post(f"/runs/{RUN}/cases", data={"action": "review", "case": ["1:1"]})
    assert no_csrf.status_code == 400
    done = _batch(auditor, "review", cases, "proposed")
    assert done.status_code == 302
    again = _batch(auditor, "review", cases, "")
    assert again.status_code == 412  # the versions shown moved on
    fresh = [(i, v + 1) for i, v in cases]
    refused = _batch(auditor, "review", fresh, "")
    assert refused.status_code == 409
    text = refused.get_data(as_text=True)
    assert all(f'id="case-{i}" class="refused"' in text for i, _ in cases)
    assert "is reviewed: &#39;review&#39; is not allowed" in text
    office = _client(app, "office")
    approved = _batch(office, "approve", fresh, "reviewed")
    assert approved.status_code == 302
    detail = office.get(f"/cases/{cases[0][0]}").get_data(as_text=True)
    assert "approve" in detail and "reviewed → approved" in detail


def test_the_same_person_is_refused_as_approver_with_the_workflows_message(app: Flask, demo_url: str) -> None:
    engine = make_engine(demo_url)
    with Session(engine) as s, s.begin():
        create_account(s, "office2", "second-office-pw-2024", display_name="周强",
                       roles=["office", "auditor"], actor="test")
    engine.dispose()
    _open(demo_url)
    cases = _cases(demo_url)[:2]
    both = _client(app, "office2", "second-office-pw-2024")
    assert _batch(both, "review", cases, "proposed").status_code == 302
    refused = _batch(both, "approve", [(i, v + 1) for i, v in cases], "reviewed")
    assert refused.status_code == 409
    assert "office2 是本事项的审核人：须由另一人办理（职责分离）。" in refused.get_data(as_text=True)


def test_explanation_shows_the_case_history(app: Flask, demo_url: str) -> None:
    _open(demo_url)
    engine = make_engine(demo_url)
    with Session(engine) as s:
        seq = s.scalars(select(Firing.seq).join(Case, Case.firing_id == Firing.id)
                        .where(Case.run_id == RUN).order_by(Case.id)).first()
    engine.dispose()
    page = _client(app, "auditor").get(f"/runs/{RUN}/firings/{seq}").get_data(as_text=True)
    assert 'id="history"' in page and "proposed" in page and "No case has been opened" not in page


def _publish_all(app: Flask, url: str) -> None:
    _open(url)
    cases = _cases(url)
    assert _batch(_client(app, "auditor"), "review", cases, "proposed").status_code == 302
    office = _client(app, "office")
    assert _batch(office, "approve", [(i, v + 1) for i, v in cases], "reviewed").status_code == 302
    token = csrf_token(office, f"/runs/{RUN}/cases")
    assert office.post(f"/runs/{RUN}/publish", data={"csrf_token": token}).status_code == 302


def test_appeal_filed_with_evidence_and_overturned(app: Flask, demo_url: str) -> None:
    reporter = _client(app, "reporter")
    closed = reporter.get(f"/runs/{RUN}/units/C01/appeal").get_data(as_text=True)
    assert 'id="window-closed"' in closed
    _publish_all(app, demo_url)
    page = reporter.get(f"/runs/{RUN}/units/C01/appeal")
    text = page.get_data(as_text=True)
    assert 'class="countdown"' in text
    seq = re.search(r'name="firing" value="(\d+)"', text)
    assert seq
    assert reporter.get(f"/runs/{RUN}/units/C02/appeal").status_code == 403
    token = csrf_token(reporter, f"/runs/{RUN}/units/C01/appeal")
    bad = reporter.post(f"/runs/{RUN}/units/C01/appeal", data={
        "csrf_token": token, "firing": seq.group(1), "grounds": "整改已完成",
        "evidence": (io.BytesIO(b"MZ\x90\x00"), "evil.exe")}, content_type="multipart/form-data")
    assert bad.status_code == 422
    filed = reporter.post(f"/runs/{RUN}/units/C01/appeal", data={
        "csrf_token": token, "firing": seq.group(1), "grounds": "<b>整改已完成</b>",
        "evidence": (io.BytesIO(PDF), "证明.pdf")}, content_type="multipart/form-data")
    assert filed.status_code == 302, filed.get_data(as_text=True)[:2000]
    appeal_url = filed.headers["Location"]
    shown = reporter.get(appeal_url).get_data(as_text=True)
    assert "&lt;b&gt;整改已完成&lt;/b&gt;" in shown and 'id="evidence-link"' in shown
    reviewer = _client(app, "reviewer")
    form = reviewer.get(appeal_url).get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', form)
    assert version and 'id="decide-form"' in form
    token = csrf_token(reviewer, appeal_url)
    stale = reviewer.post(appeal_url, data={"csrf_token": token, "version": "99", "outcome": "overturned",
                                            "reason": "材料属实"})
    assert stale.status_code == 412
    decided = reviewer.post(appeal_url, data={"csrf_token": token, "version": version.group(1),
                                              "outcome": "overturned", "reason": "材料属实"})
    assert decided.status_code == 302
    after = reviewer.get(appeal_url).get_data(as_text=True)
    assert 'id="superseding-run"' in after and "overturned" in after
    own_token = csrf_token(reporter, "/progress")
    assert reporter.post(appeal_url, data={"csrf_token": own_token}).status_code == 403


def test_an_adjusted_appeal_shows_each_firings_original_and_adjusted_points(
    app: Flask, demo_url: str
) -> None:
    from web.app import points

    _publish_all(app, demo_url)
    reporter = _client(app, "reporter")
    offered = [int(x) for x in re.findall(r'name="firing" value="(\d+)"',
                                          reporter.get(f"/runs/{RUN}/units/C01/appeal").get_data(as_text=True))]
    engine = make_engine(demo_url)
    with Session(engine) as s:
        firings = {f.seq: f.points for f in s.scalars(select(Firing).where(
            Firing.run_id == RUN, Firing.seq.in_(offered), Firing.effect == "deduction"))
            if f.points < 0}  # a deduction capped to nothing cannot be lessened
    engine.dispose()
    cited = sorted(firings)[:2]
    assert len(cited) == 2, f"C01 has two deductions with points in the demo year, not {cited}"
    token = csrf_token(reporter, f"/runs/{RUN}/units/C01/appeal")
    filed = reporter.post(f"/runs/{RUN}/units/C01/appeal", data={
        "csrf_token": token, "firing": [str(q) for q in cited], "grounds": "部分整改"})
    assert filed.status_code == 302, filed.get_data(as_text=True)[:2000]
    appeal_url = filed.headers["Location"]
    reviewer = _client(app, "reviewer")
    form = reviewer.get(appeal_url).get_data(as_text=True)
    for seq in cited:
        assert f'name="points-{seq}"' in form
    version = re.search(r'name="version" value="(\d+)"', form)
    assert version
    new = {seq: firings[seq] / 2 for seq in cited}
    decision = {"csrf_token": csrf_token(reviewer, appeal_url), "version": version.group(1),
                "outcome": "adjusted", "reason": "整改一半，扣分减半"}
    partial = reviewer.post(appeal_url, data={**decision, f"points-{cited[0]}": str(new[cited[0]])})
    # every cited firing needs its new points: refused with the workflow's reason, nothing decided
    assert partial.status_code == 422 and '<dd id="appeal-state">filed</dd>' in partial.get_data(as_text=True)
    assert f"调整的复核决定须为每项被申诉的规则触发给出新分值：{cited}。" in partial.get_data(as_text=True)
    every = {f"points-{q}": str(v) for q, v in new.items()}
    decided = reviewer.post(appeal_url, data={**decision, **every})
    assert decided.status_code == 302, decided.get_data(as_text=True)[-3000:]
    page = reviewer.get(appeal_url).get_data(as_text=True)
    assert '<dd id="appeal-state">adjusted</dd>' in page
    for seq in cited:
        row = re.search(rf'<tr id="cited-{seq}">(.*?)</tr>', page, re.S)
        assert row, seq
        assert f'<td class="num original">{points(firings[seq])}</td>' in row.group(1)
        adjusted = f'<td class="num adjusted">{points(new[seq])} <span class="muted">(已调整)</span></td>'
        assert adjusted in row.group(1)


def test_pack_diff_impact_and_audit_ledger(app: Flask, tmp_path: Path) -> None:
    office = _client(app, "office")
    packs = office.get("/rule-packs").get_data(as_text=True)
    assert "demo-city-2024" in packs
    page = office.get("/rule-packs/demo-city-2024/1").get_data(as_text=True)
    assert 'id="diff"' in page and 'id="impact-form"' in page
    token = csrf_token(office, "/rule-packs/demo-city-2024/1")
    impact = office.post("/rule-packs/demo-city-2024/1", data={"csrf_token": token})
    assert impact.status_code == 200 and 'id="impact-table"' in impact.get_data(as_text=True)
    auditor = _client(app, "auditor")
    ledger = auditor.get("/audit").get_data(as_text=True)
    assert 'id="events"' in ledger
    token = csrf_token(auditor, "/audit")
    verified = auditor.post("/audit", data={"csrf_token": token}).get_data(as_text=True)
    assert 'class="ok" id="verify-result"' in verified
    bundle = auditor.get(f"/runs/{RUN}/audit-bundle")
    assert bundle.status_code == 200
    assert "manifest.json" in zipfile.ZipFile(io.BytesIO(bundle.data)).namelist()
    assert _client(app, "reporter").get("/audit").status_code == 403
