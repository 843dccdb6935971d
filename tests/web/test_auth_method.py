"""A web decision's ledger event says how its actor was authenticated, as the CLI's do: ``session``
for a page used after the login, ``token:<prefix>`` for the API with a bearer token."""

from __future__ import annotations

import json

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from store import Account, AuditEvent, Case, make_engine
from tests.web.conftest import csrf_token, login
from workflows.accounts import issue_token
from workflows.cases import open_cases

RUN = 2


def test_page_and_api_decisions_record_how_their_actor_was_authenticated(app: Flask, demo_url: str) -> None:
    engine = make_engine(demo_url)
    with Session(engine) as s, s.begin():
        open_cases(s, RUN, actor="office")
        secret = issue_token(s, s.scalars(select(Account).where(Account.username == "auditor")).one(),
                             "tests", actor="test")[1]
        (first, v1), (second, v2) = s.execute(select(Case.id, Case.version).where(Case.run_id == RUN)
                                              .order_by(Case.id).limit(2)).all()
    client = app.test_client()
    login(client, "auditor")
    token = csrf_token(client, f"/runs/{RUN}/cases?state=proposed")
    paged = client.post(f"/runs/{RUN}/cases?state=proposed",
                        data={"csrf_token": token, "action": "review", "case": [f"{first}:{v1}"]})
    assert paged.status_code == 302
    api = app.test_client().post(f"/api/v1/cases/{second}/review", json={},
                                 headers={"Authorization": f"Bearer {secret}", "If-Match": f'"{v2}"'})
    assert api.status_code == 200, api.get_json()
    with Session(engine) as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "case.review")
                           .order_by(AuditEvent.seq)).all()
        assert [(e.subject_id, e.actor, json.loads(e.payload)["auth"]) for e in events] == [
            (str(first), "auditor", "session"), (str(second), "auditor", f"token:{secret[:10]}")]
    engine.dispose()
