"""Domain errors on pages in the reader's language: Chinese with the message's details, English
as the workflow wrote it; the JSON API keeps the workflow's words in ``{error, message, request_id}``."""

from __future__ import annotations

from flask import Flask, session

from tests.web.conftest import login
from web.domain_text import localized
from workflows.errors import BatchRefused, Conflict, Forbidden, IllegalTransition, NotFound

DUTIES = "office is the proposer: a different person must act (separation of duties)"


def test_known_shapes_are_translated_with_their_details(shared_app: Flask) -> None:
    with shared_app.test_request_context("/"):
        assert localized(Forbidden(DUTIES)) == "office 是本事项的提出人：须由另一人办理（职责分离）。"
        assert localized(IllegalTransition("case", 7, "approved", "review")) == (
            "案件 7 当前状态为 approved：此状态下不能执行“review”。")
        assert localized(NotFound("no target adjustment 42")) == "不存在目标调整申请 42。"
        assert localized(NotFound("no unit 'Z09' in scheme DEMO-2024")) == "方案 DEMO-2024 中没有单位 'Z09'。"
        assert localized(Conflict("run 3 has undecided appeals: 5, 6")) == "运算 3 尚有未决申诉：5, 6。"


def test_an_unknown_shape_keeps_its_detail_under_a_translated_kind(shared_app: Flask) -> None:
    with shared_app.test_request_context("/"):
        assert localized(Conflict("case 9 moved sideways")) == "与当前状态冲突：case 9 moved sideways"
        batch = localized(BatchRefused("approve", [(3, DUTIES), (4, "case 4 moved sideways")]))
        assert batch == ("2 项被拒绝，未作任何更改——"
                         "3: office 是本事项的提出人：须由另一人办理（职责分离）。; "
                         "4: 已拒绝：case 4 moved sideways")


def test_english_readers_see_the_workflows_words(shared_app: Flask) -> None:
    with shared_app.test_request_context("/"):
        session["lang"] = "en"
        assert localized(Forbidden(DUTIES)) == DUTIES
        assert localized(IllegalTransition("case", 7, "approved", "review")) == (
            "case 7 is approved: 'review' is not allowed from approved")


def test_the_api_keeps_the_workflows_words(shared_app: Flask) -> None:
    client = shared_app.test_client()
    login(client, "office")  # a zh session: pages would translate, the API does not
    page = client.get("/adjustments/999999")
    assert page.status_code == 404 and "不存在目标调整申请 999999。" in page.get_data(as_text=True)
    response = client.get("/api/v1/adjustments/999999")
    assert response.status_code == 404
    body = response.get_json()
    assert set(body) == {"error", "message", "request_id"}
    assert body["error"] == "not_found" and body["message"] == "no target adjustment 999999"
