"""The workflow API: cases (list, get with history, transitions single and batch), If-Match and
Idempotency-Key, publication, appeals with evidence, seal, audit verify and export, pack diff.

Each test works on its own copy of the demo database. The demo runs were made by ``demo:office``
(no account), so the demo office may approve them; a run the office makes itself it may not.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from store import Account, make_engine
from tests.web.conftest import login
from workflows.accounts import create_account, issue_token

RUN = 2  # the demo's year-end run (2024)
PDF = b"%PDF-1.4\n% evidence\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


class Api:
    """A client with a bearer token for one account (no CSRF needed)."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **headers: str) -> Any:
        return self.client.get(f"/api/v1{path}", headers={**self.headers, **headers})

    def post(self, path: str, json: Any = None, *, headers: dict[str, str] | None = None, **kw: Any) -> Any:
        merged = {**self.headers, **(headers or {})}
        return self.client.post(f"/api/v1{path}", json=json, headers=merged, **kw)


@pytest.fixture
def apis(app: Flask, demo_url: str) -> Iterator[dict[str, Api]]:
    engine = make_engine(demo_url)
    secrets: dict[str, str] = {}
    with Session(engine) as s, s.begin():
        create_account(s, "office2", "second-office-pw-2024", display_name="市考核办 周强", roles=["office"],
                       actor="test")
        for name in ("admin", "office", "office2", "auditor", "reviewer", "committee", "reporter"):
            account = s.scalars(select(Account).where(Account.username == name)).one()
            secrets[name] = issue_token(s, account, "tests", actor="test")[1]
    engine.dispose()
    yield {name: Api(app.test_client(), secret) for name, secret in secrets.items()}


def _open(apis: dict[str, Api], run: int = RUN) -> list[dict[str, Any]]:
    assert apis["office"].post(f"/runs/{run}/cases").status_code == 201
    items: list[dict[str, Any]] = []
    while True:
        page = apis["office"].get(f"/runs/{run}/cases?page_size=200&page={len(items) // 200 + 1}").get_json()
        items += page["items"]
        if len(items) >= page["total"]:
            assert items
            return items


def _review_all(apis: dict[str, Api], cases: list[dict[str, Any]]) -> dict[str, Any]:
    body = {"action": "review", "cases": [{"id": c["id"], "version": c["version"]} for c in cases]}
    response = apis["auditor"].post("/case-batches", body)
    assert response.status_code == 200, response.get_json()
    return dict(response.get_json())


def test_single_transition_needs_if_match_and_refuses_a_stale_version(apis: dict[str, Api]) -> None:
    case = _open(apis)[0]
    auditor = apis["auditor"]
    missing = auditor.post(f"/cases/{case['id']}/review", {})
    assert missing.status_code == 428 and missing.get_json()["error"] == "precondition_required"
    malformed = auditor.post(f"/cases/{case['id']}/review", {}, headers={"If-Match": "abc"})
    assert malformed.status_code == 400
    stale = auditor.post(f"/cases/{case['id']}/review", {}, headers={"If-Match": '"7"'})
    assert stale.status_code == 412
    assert stale.get_json()["details"][0]["id"] == case["id"]
    ok = auditor.post(f"/cases/{case['id']}/review", {}, headers={"If-Match": f'"{case["version"]}"'})
    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json()["state"] == "reviewed" and ok.headers["ETag"] == f'"{case["version"] + 1}"'
    again = auditor.post(f"/cases/{case['id']}/review", {}, headers={"If-Match": f'"{case["version"] + 1}"'})
    assert again.status_code == 409
    assert again.get_json()["details"] == {"subject": "case", "id": case["id"], "state": "reviewed",
                                           "action": "review"}
    detail = auditor.get(f"/cases/{case['id']}")
    assert detail.headers["ETag"] == f'"{case["version"] + 1}"'
    assert [h["action"] for h in detail.get_json()["history"]] == ["open", "review"]


def test_idempotency_key_replays_the_first_response(apis: dict[str, Api]) -> None:
    case = _open(apis)[0]
    headers = {"If-Match": str(case["version"]), "Idempotency-Key": "review-1"}
    first = apis["auditor"].post(f"/cases/{case['id']}/review", {"reason": "ok"}, headers=headers)
    second = apis["auditor"].post(f"/cases/{case['id']}/review", {"reason": "ok"}, headers=headers)
    assert first.status_code == second.status_code == 200
    assert second.get_json() == first.get_json() and second.headers["Idempotent-Replayed"] == "true"
    other = apis["auditor"].post(f"/cases/{case['id']}/review", {"reason": "different"}, headers=headers)
    assert other.status_code == 409
    history = apis["auditor"].get(f"/cases/{case['id']}").get_json()["history"]
    assert [h["action"] for h in history] == ["open", "review"]


def test_forbidden_by_the_workflow_is_403_and_a_batch_lists_each_case(apis: dict[str, Api]) -> None:
    made = apis["office"].post("/runs", {"scheme": "DEMO-2024", "period": "2024-Q3"})
    assert made.status_code == 201
    run = made.get_json()["id"]
    cases = _open(apis, run)[:3]
    reviewed = _review_all(apis, cases)["cases"]
    batch = {"action": "approve", "cases": [{"id": c["id"], "version": c["version"]} for c in reviewed]}
    refused = apis["office"].post("/case-batches", batch)
    assert refused.status_code == 409
    body = refused.get_json()
    assert [d["id"] for d in body["details"]] == [c["id"] for c in reviewed]
    assert all("office is the proposer" in d["message"] for d in body["details"])
    single = apis["office"].post(f"/cases/{reviewed[0]['id']}/approve", {},
                                 headers={"If-Match": str(reviewed[0]["version"])})
    assert single.status_code == 403 and "separation of duties" in single.get_json()["message"]
    stale = apis["office2"].post("/case-batches", {**batch, "cases": [{"id": reviewed[0]["id"], "version": 1},
                                                                      *batch["cases"][1:]]})
    assert stale.status_code == 412 and [d["id"] for d in stale.get_json()["details"]] == [reviewed[0]["id"]]
    approved = apis["office2"].post("/case-batches", batch)
    assert approved.status_code == 200
    assert {c["state"] for c in approved.get_json()["cases"]} == {"approved"}
    wrong_role = apis["auditor"].post("/case-batches", {**batch, "action": "approve"})
    assert wrong_role.status_code == 403


def _publish(apis: dict[str, Api]) -> dict[str, Any]:
    cases = _open(apis)
    reviewed = _review_all(apis, cases)["cases"]
    body = {"action": "approve", "cases": [{"id": c["id"], "version": c["version"]} for c in reviewed]}
    assert apis["office"].post("/case-batches", body).status_code == 200
    published = apis["office"].post(f"/runs/{RUN}/publication")
    assert published.status_code == 201, published.get_json()
    return dict(published.get_json())


def test_publish_appeal_with_evidence_and_overturn(apis: dict[str, Api], app: Flask) -> None:
    unpublished = apis["office"].post(f"/runs/{RUN}/publication")
    assert unpublished.status_code == 409  # no cases opened yet
    pub = _publish(apis)
    assert apis["office"].post(f"/runs/{RUN}/publication").status_code == 409
    head, before = apis["auditor"].get("/audit/events?page_size=2").get_json()["items"]
    checkpoint = app.test_client().get("/api/v1/audit/checkpoint").get_json()  # signed in the request
    # the checkpoint covers the publication; the rows it wrote are bound just after, at commit
    assert before["action"] == "run.publish" and checkpoint["tree_size"] == before["seq"]
    assert head["action"] == "rows.bind" and head["seq"] == before["seq"] + 1
    anonymous = app.test_client().get(f"/api/v1/runs/{RUN}/publication")
    assert anonymous.status_code == 200 and anonymous.get_json()["appeals_close_at"]
    firing = apis["reporter"].get(f"/runs/{RUN}/firings?effect=deduction&page_size=1").get_json()["items"][0]
    reporter = apis["reporter"]
    form = {"unit": "C01", "firings": [str(firing["seq"])], "grounds": "已于年底前完成整改"}
    wrong_type = reporter.post(f"/runs/{RUN}/appeals", data={**form, "evidence": (io.BytesIO(b"<html>"),
                                                                                  "证明.pdf")},
                               content_type="multipart/form-data")
    assert wrong_type.status_code == 415
    too_big = reporter.post(f"/runs/{RUN}/appeals",
                            data={**form, "evidence": (io.BytesIO(PDF + b"0" * 300_000), "big.pdf")},
                            content_type="multipart/form-data")
    assert too_big.status_code == 413
    other_unit = reporter.post(f"/runs/{RUN}/appeals", data={**form, "unit": "C02"},
                               content_type="multipart/form-data")
    assert other_unit.status_code == 403
    evidence = (io.BytesIO(PDF), "整改证明.pdf")
    filed = reporter.post(f"/runs/{RUN}/appeals", data={**form, "evidence": evidence},
                          content_type="multipart/form-data")
    assert filed.status_code == 201, filed.get_json()
    appeal = filed.get_json()
    assert appeal["evidence_file"] and appeal["state"] == "filed" and pub["run"] == RUN
    download = reporter.get(f"/appeals/{appeal['id']}/evidence")
    assert download.status_code == 200 and download.data == PDF
    assert apis["reviewer"].get(f"/appeals?run={RUN}").get_json()["total"] == 1
    reviewer = apis["reviewer"]
    no_match = reviewer.post(f"/appeals/{appeal['id']}/decision", {"outcome": "overturned", "reason": "x"})
    assert no_match.status_code == 428
    taken = reviewer.post(f"/appeals/{appeal['id']}/take", headers={"If-Match": str(appeal["version"])})
    assert taken.status_code == 200 and taken.get_json()["state"] == "under_review"
    decided = reviewer.post(f"/appeals/{appeal['id']}/decision",
                            {"outcome": "overturned", "reason": "整改材料属实"},
                            headers={"If-Match": str(taken.get_json()["version"])})
    assert decided.status_code == 200, decided.get_json()
    new_run = decided.get_json()["superseding_run"]
    assert new_run and apis["office"].get(f"/runs/{RUN}").get_json()["status"] == "superseded"
    seal = apis["committee"].post(f"/runs/{new_run}/seal")
    assert seal.status_code == 409 and "publication window" in seal.get_json()["message"]


def test_audit_verify_export_and_pack_diff(apis: dict[str, Api], app: Flask) -> None:
    report = apis["auditor"].get("/audit/verify").get_json()
    assert report["ok"] and report["runs_checked"] >= 2
    assert apis["reporter"].get("/audit/verify").status_code == 403
    bundle = apis["auditor"].get(f"/runs/{RUN}/audit-bundle")
    assert bundle.status_code == 200 and bundle.mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(bundle.data)).namelist()
    assert "manifest.json" in names
    assert apis["auditor"].get("/runs/999/audit-bundle").status_code == 404
    events = apis["auditor"].get("/audit/events?action=run.create").get_json()
    assert events["total"] >= 2
    same = apis["office"].get("/rule-packs/demo-city-2024/1/diff?against=1").get_json()
    assert same["diff"] == ""
    assert apis["office"].get("/rule-packs/demo-city-2024/1/diff?against=9").status_code == 404


def test_openapi_documents_the_workflow(app: Flask, tmp_path: Path) -> None:
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/cases/{case_id}/review", "/api/v1/case-batches", "/api/v1/runs/{run_id}/appeals",
                 "/api/v1/appeals/{appeal_id}/decision", "/api/v1/audit/verify",
                 "/api/v1/runs/{run_id}/audit-bundle"):
        assert path in spec["paths"], path
    params = {p["name"] for p in spec["paths"]["/api/v1/cases/{case_id}/review"]["post"]["parameters"]}
    assert {"If-Match", "Idempotency-Key"} <= params


def test_explanation_reads_only_the_units_rows_and_says_the_same(apis: dict[str, Api], demo_url: str) -> None:
    """The explanation endpoint builds the unit's part of the run (not the whole run): same text."""
    from engine import explain, render_explanation
    from workflows import readmodels as rm
    from workflows.runs import get_run, load_result

    engine = make_engine(demo_url)
    with Session(engine) as s:
        run = get_run(s, RUN)
        whole = load_result(s, run)
        expected = {(code, lang): render_explanation(explain(whole, code, None), lang)
                    for code in ("C01", "C02", "D01") for lang in ("zh", "en")}
        part = rm.unit_result(s, run, rm.get_unit(s, run.scheme, "C01"))
        assert {f.unit for f in part.firings} == {"C01"} and len(part.sheets) == 1
    engine.dispose()
    for (code, lang), text in expected.items():
        got = apis["auditor"].get(f"/runs/{RUN}/units/{code}/explanation?lang={lang}").get_json()
        assert got["text"] == text, (code, lang)


def test_an_id_beyond_the_database_range_is_404_not_500(app: Flask) -> None:
    """Found by the fuzzer on PostgreSQL: /runs/217649848018/firings reached the database as an
    out-of-range integer (500)."""
    client = app.test_client()
    login(client, "office")
    for path in ("/api/v1/runs/217649848018/firings", "/api/v1/cases/2147483648", "/runs/0/cases",
                 "/appeals/99999999999"):
        assert client.get(path).status_code == 404, path
    spec = client.get("/api/v1/openapi.json").get_json()
    run_id = next(p for p in spec["paths"]["/api/v1/runs/{run_id}"]["parameters"] if p["name"] == "run_id")
    assert run_id["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
