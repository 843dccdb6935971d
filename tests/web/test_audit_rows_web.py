"""The ledger page and API name a row changed behind the ledger's back: table, key, binding event."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import text

from store import make_engine
from tests.web.conftest import csrf_token, login


def test_a_row_changed_in_sql_is_named_on_the_page_and_by_the_api(app: Flask, demo_url: str) -> None:
    engine = make_engine(demo_url)
    with engine.begin() as conn:  # a DBA renames the reporter
        conn.execute(text("UPDATE account SET display_name = '管理员' WHERE username = 'reporter'"))
        account_id = conn.execute(text("SELECT id FROM account WHERE username = 'reporter'")).scalar()
    engine.dispose()
    auditor = app.test_client()
    login(auditor, "auditor")
    page = auditor.post("/audit", data={"csrf_token": csrf_token(auditor, "/audit")}).get_data(as_text=True)
    assert 'class="broken" id="verify-result"' in page
    assert f"数据表 account 的第 {account_id} 行与留痕不符（row_changed，记载于事件" in page
    report = auditor.get("/api/v1/audit/verify").get_json()
    assert report["ok"] is False
    brk = report["first_break"]
    assert (brk["kind"], brk["table"], brk["row"]) == ("row_changed", "account", str(account_id))
