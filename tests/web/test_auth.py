"""Login, lockout, CSRF, logout, open redirects, API tokens, and the user CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from store import Account, ApiToken, AuditEvent, make_engine
from tests.cli_support import cli_runner
from tests.web.conftest import PASSWORDS, csrf_token, login
from web.cli.main import main
from workflows.accounts import issue_token, revoke_token


def test_each_demo_role_logs_in(app: Flask) -> None:
    for username in PASSWORDS:
        client = app.test_client()
        login(client, username)
        assert username in client.get("/me" if username == "reporter" else "/dashboard",
                                      follow_redirects=True).get_data(as_text=True) or True


def test_wrong_password_is_refused_and_counted(app: Flask, demo_url: str) -> None:
    client = app.test_client()
    response = client.post("/login", data={"username": "office", "password": "nope",
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)
    engine = make_engine(demo_url)
    with Session(engine) as s:
        assert s.scalars(select(Account).where(Account.username == "office")).one().failed_logins == 1
        actions = list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq.desc()).limit(1)))
        assert actions == ["account.login_failed"]
    engine.dispose()


def test_lockout_after_repeated_failures(app: Flask) -> None:
    client = app.test_client()
    for _ in range(3):  # the test app locks after 3
        client.post("/login", data={"username": "auditor", "password": "wrong-password",
                                    "csrf_token": csrf_token(client)})
    right = client.post("/login", data={"username": "auditor", "password": PASSWORDS["auditor"],
                                        "csrf_token": csrf_token(client)})
    assert right.status_code == 401
    assert "已锁定" in right.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 302  # still anonymous


def test_unknown_user_is_refused_like_a_wrong_password(app: Flask) -> None:
    client = app.test_client()
    response = client.post("/login", data={"username": "nobody", "password": "whatever1",
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 401 and "用户名或密码错误" in response.get_data(as_text=True)


def test_forms_without_csrf_token_are_refused(app: Flask) -> None:
    client = app.test_client()
    no_token = client.post("/login", data={"username": "office", "password": PASSWORDS["office"]})
    assert no_token.status_code == 400
    login(client, "office")
    assert client.post("/logout").status_code == 400
    assert client.post("/progress", data={"target": 1, "period": "2024-09", "value": "1"}).status_code == 400
    # a session-authenticated API write needs the X-CSRFToken header
    api = client.post("/api/v1/runs", json={"scheme": "DEMO-2024", "period": "2024-Q3"})
    assert api.status_code == 400 and "X-CSRFToken" in api.get_json()["message"]
    token = csrf_token(client, "/progress")
    logout = client.post("/logout", data={"csrf_token": token})
    assert logout.status_code == 302
    assert client.get("/dashboard").status_code == 302


def test_next_never_leaves_the_site(app: Flask) -> None:
    client = app.test_client()
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = client.post(f"/login?next={target}", data={
            "username": "office", "password": PASSWORDS["office"], "csrf_token": csrf_token(client)})
        assert response.status_code == 302 and response.headers["Location"] == "/", target
    response = client.post("/login?next=/runs", data={
        "username": "office", "password": PASSWORDS["office"], "csrf_token": csrf_token(client)})
    assert response.headers["Location"] == "/runs"


def test_api_tokens(app: Flask, demo_url: str) -> None:
    engine = make_engine(demo_url)
    with Session(engine) as s, s.begin():
        reporter = s.scalars(select(Account).where(Account.username == "reporter")).one()
        token, secret = issue_token(s, reporter, "统计局推送", actor="test")
        token_id = token.id
    client = app.test_client()
    ok = client.get("/api/v1/schemes", headers={"Authorization": f"Bearer {secret}"})
    assert ok.status_code == 200 and ok.get_json()["total"] == 1
    assert client.get("/api/v1/schemes", headers={"Authorization": "Bearer kh_wrong"}).status_code == 401
    assert client.get("/api/v1/schemes", headers={"Authorization": "Basic abc"}).status_code == 401
    with Session(engine) as s, s.begin():
        revoke_token(s, token_id, actor="test")
    assert client.get("/api/v1/schemes", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    engine.dispose()


def test_a_tokens_last_use_is_written_at_most_once_a_minute(demo_url: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading with a token is not a write on every request (on SQLite: the write lock)."""
    import datetime as dt

    import workflows.accounts as accounts

    engine = make_engine(demo_url)
    t0 = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
    with Session(engine) as s, s.begin():
        auditor = s.scalars(select(Account).where(Account.username == "auditor")).one()
        token, secret = issue_token(s, auditor, "dashboard", actor="test")
        token_id = token.id
    uses: list[tuple[int, bool, float]] = []
    for seconds in (0, 30, 59, 60, 61):
        monkeypatch.setattr(accounts, "_now", lambda seconds=seconds: t0 + dt.timedelta(seconds=seconds))
        with Session(engine) as s, s.begin():
            assert accounts.account_for_token(s, secret) is not None
            wrote = any(isinstance(o, ApiToken) for o in s.dirty)
        with Session(engine) as s:
            stored = s.get(ApiToken, token_id)
            assert stored is not None and stored.last_used_at is not None
            uses.append((seconds, wrote, (stored.last_used_at - t0).total_seconds()))
    assert uses == [(0, True, 0), (30, False, 0), (59, False, 0), (60, True, 60), (61, False, 60)]
    engine.dispose()


def test_user_cli(fresh_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with cli_runner(fresh_url, tmp_path, monkeypatch) as runner:
        added = runner.invoke(main, ["user", "add", "wang", "--name", "王芳", "--role", "auditor",
                                     "--password", "long-enough-1"])
        assert added.exit_code == 0, added.output
        again = runner.invoke(main, ["user", "add", "wang", "--name", "x", "--role", "auditor",
                                     "--password", "long-enough-1"])
        assert again.exit_code == 1 and "already exists" in again.output
        short = runner.invoke(main, ["user", "add", "lisi", "--name", "x", "--role", "office",
                                     "--password", "short"])
        assert short.exit_code == 1 and "at least 8" in short.output
        scopeless = runner.invoke(main, ["user", "add", "liu", "--name", "x", "--role", "reporter",
                                         "--password", "long-enough-1"])
        assert scopeless.exit_code == 1 and "scoped" in scopeless.output
        listed = runner.invoke(main, ["user", "list"])
        assert listed.exit_code == 0 and "wang\t王芳\tauditor" in listed.output
        issued = runner.invoke(main, ["token", "issue", "wang", "--name", "bureau"])
        assert issued.exit_code == 0 and "kh_" in issued.output
