"""Who decides through the CLI is proven: outside a development instance a decision needs the
actor's own API token or password, four eyes hold on the proven identity (not on KAOHE_ACTOR),
and every event says how its actor was authenticated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

import web.cli.identity
from store import Account, AuditEvent, Case, make_engine
from tests.cases.conftest import RUN_ID
from tests.cli_support import cli_runner
from web.cli.main import main
from web.config import Settings, load_settings
from workflows.accounts import create_account, issue_token, revoke_token

PASSWORD = "wang-secret-2024"


def _accounts(engine: Engine) -> dict[str, str]:
    """Accounts of the four people, and a token each (one revoked, one of a deactivated account)."""
    with Session(engine) as s, s.begin():
        for name, roles in (("office.zhao", ["office"]), ("auditor.chen", ["auditor", "office"]),
                            ("director.wang", ["office"]), ("office.li", ["office"]),
                            ("gone.liu", ["office"])):
            create_account(s, name, PASSWORD, display_name=name, roles=roles, actor="admin")
        tokens = {name: issue_token(s, s.scalars(select(Account).where(Account.username == name)).one(),
                                    "cli", actor="admin")[1]
                  for name in ("office.zhao", "auditor.chen", "director.wang", "gone.liu")}
        revoked, tokens["revoked"] = issue_token(s, s.scalars(select(Account).where(
            Account.username == "director.wang")).one(), "old laptop", actor="admin")
        revoke_token(s, revoked.id, actor="admin")
        s.scalars(select(Account).where(Account.username == "gone.liu")).one().active = False
    return tokens


def _state(engine: Engine, case_id: int) -> tuple[str, str | None, int]:
    """A case's state and approver, and how many case events the ledger holds."""
    with Session(engine) as s:
        case = s.get(Case, case_id)
        assert case is not None
        events = s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action.like("case.%")))
        return case.state, case.approver, events or 0


def _last_auth(engine: Engine, action: str) -> tuple[str, str]:
    with Session(engine) as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == action)
                          .order_by(AuditEvent.seq.desc()).limit(1)).one()
        return event.actor, json.loads(event.payload)["auth"]


def test_a_cli_decision_needs_the_deciders_own_credential(
    demo_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(demo_url)
    tokens = _accounts(engine)
    run = str(RUN_ID)
    with cli_runner(demo_url, tmp_path, monkeypatch, env="test") as runner:
        def kaohe(env: dict[str, str], *args: str, stdin: str | None = None) -> tuple[int, str]:
            result = runner.invoke(main, list(args), env={"KAOHE_LOCKOUT_THRESHOLD": "2", **env},
                                   input=stdin)
            return result.exit_code, result.output

        code, out = kaohe({"KAOHE_ACTOR": "office.zhao"}, "case", "open", run)
        assert code == 1 and ("case.open needs proof of who you are: this is a test instance, where "
                              "KAOHE_ACTOR (office.zhao) alone is not enough") in out, out
        assert "Nothing was done" in out
        with Session(engine) as s:
            assert s.scalar(select(func.count()).select_from(Case)) == 0
        code, out = kaohe({"KAOHE_TOKEN": tokens["office.zhao"]}, "case", "open", run)
        assert code == 0 and "474 case(s) opened" in out, out
        assert _last_auth(engine, "case.open") == ("office.zhao", f"token:{tokens['office.zhao'][:10]}")
        with Session(engine) as s:
            first, second, third, fourth = s.scalars(select(Case.id).order_by(Case.id).limit(4))
        ids = [str(first), str(second), str(third), str(fourth)]
        chen = tokens["auditor.chen"]
        assert kaohe({"KAOHE_ACTOR": "auditor.chen", "KAOHE_TOKEN": chen}, "case", "review", *ids)[0] == 0
        reviewed = _state(engine, first)
        assert reviewed[:2] == ("reviewed", None)

        # The reviewer approving under another name: refused however the name is swapped.
        code, out = kaohe({"KAOHE_ACTOR": "director.wang"}, "case", "approve", ids[0])
        assert code == 1 and "case.approve needs proof of who you are" in out, out
        code, out = kaohe({"KAOHE_ACTOR": "director.wang", "KAOHE_TOKEN": chen}, "case", "approve", ids[0])
        assert code == 1 and ("KAOHE_ACTOR is director.wang but the API token is auditor.chen's: unset "
                              "KAOHE_ACTOR, or use director.wang's own token") in out, out
        code, out = kaohe({"KAOHE_TOKEN": chen}, "case", "approve", ids[0])
        assert code == 1 and ("auditor.chen is the reviewer: a different person must act "
                              "(separation of duties)") in out, out
        # Credentials that prove nobody.
        code, out = kaohe({"KAOHE_TOKEN": tokens["revoked"]}, "case", "approve", ids[0])
        assert code == 1 and f"API token {tokens['revoked'][:10]}… of director.wang was revoked" in out, out
        code, out = kaohe({"KAOHE_TOKEN": tokens["gone.liu"]}, "case", "approve", ids[0])
        assert code == 1 and "account gone.liu is deactivated" in out, out
        code, out = kaohe({"KAOHE_TOKEN": "kh_not-a-token"}, "case", "approve", ids[0])
        assert code == 1 and "API token kh_not-a-t… is unknown: ask an admin for one" in out, out
        code, out = kaohe({"KAOHE_ACTOR": "director.wang"}, "--password-stdin", "case", "approve", ids[0],
                          stdin="wrong password\n")
        assert code == 1 and "wrong password for director.wang" in out and "nothing was done" in out, out
        assert _state(engine, first) == reviewed

        # The approver's own token, then the approver's password: each event says which.
        code, out = kaohe({"KAOHE_TOKEN": tokens["director.wang"]}, "case", "approve", ids[0])
        assert code == 0 and f"case {ids[0]}: approved" in out, out
        assert _state(engine, first)[:2] == ("approved", "director.wang")
        assert _last_auth(engine, "case.approve") == ("director.wang",
                                                      f"token:{tokens['director.wang'][:10]}")
        code, out = kaohe({"KAOHE_ACTOR": "director.wang"}, "--password-stdin", "case", "reject", ids[1],
                          "--reason", "the notice names another county", stdin=f"{PASSWORD}\n")
        assert code == 0 and f"case {ids[1]}: rejected" in out, out
        assert _last_auth(engine, "case.reject") == ("director.wang", "password")
        kept = tmp_path / "wang.token"
        kept.write_text("\n", encoding="utf-8")
        code, out = kaohe({}, "--token-file", str(kept), "case", "approve", ids[2])
        assert code == 1 and f"--token-file {kept} is empty" in out, out
        kept.write_text(tokens["director.wang"] + "\n", encoding="utf-8")
        code, out = kaohe({}, "--token-file", str(kept), "case", "approve", ids[2])
        assert code == 0 and f"case {ids[2]}: approved" in out, out
        with monkeypatch.context() as terminal:  # at a terminal the password is asked for
            terminal.setattr(web.cli.identity, "interactive", lambda: True)
            code, out = kaohe({"KAOHE_ACTOR": "director.wang"}, "case", "approve", ids[3],
                              stdin=f"{PASSWORD}\n")
        assert code == 0 and "Password for director.wang" in out and f"case {ids[3]}: approved" in out
        assert _last_auth(engine, "case.approve") == ("director.wang", "password")

        # The web login's lockout holds for the CLI password too (threshold 2 here).
        for _ in range(2):
            code, out = kaohe({"KAOHE_ACTOR": "office.li"}, "--password-stdin", "publish", run,
                              stdin="guess\n")
        assert code == 1 and "account office.li is locked after repeated wrong passwords until" in out
        code, out = kaohe({"KAOHE_ACTOR": "office.li"}, "--password-stdin", "publish", run,
                          stdin=f"{PASSWORD}\n")
        assert code == 1 and "is locked" in out and "use your API token" in out, out
        with Session(engine) as s:
            assert s.scalars(select(Account).where(Account.username == "office.li")).one().locked_until
        code, out = kaohe({}, "audit", "verify")
        assert code == 0, out

    # On a development instance the name alone still acts, and the ledger says it was only a name.
    with cli_runner(demo_url, tmp_path, monkeypatch) as runner:
        result = runner.invoke(main, ["case", "review", str(fourth + 1)], env={"KAOHE_ACTOR": "auditor.chen"})
        assert result.exit_code == 0, result.output
        assert _last_auth(engine, "case.review") == ("auditor.chen", "development-name")
    engine.dispose()


def test_only_a_development_instance_trusts_a_bare_name_and_the_token_stays_out_of_sight() -> None:
    assert [load_settings({"KAOHE_ENV": env}).trusts_named_actor for env in ("development", "test")] \
        == [True, False]
    production = Settings(database_url="sqlite://", env="production", instance_path=Path("."),
                          log_level="INFO", actor="office.li")
    assert not production.trusts_named_actor
    settings = load_settings({"KAOHE_TOKEN": " kh_secret ", "KAOHE_ACTOR": "office.li"})
    assert settings.token == "kh_secret" and "kh_secret" not in repr(settings) and settings.actor_given
    assert not load_settings({}).actor_given
