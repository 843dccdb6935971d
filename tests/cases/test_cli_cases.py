"""The case, publish, appeal and seal commands end to end, as each actor (KAOHE_ACTOR)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cases.conftest import RUN_ID
from tests.cli_support import cli_runner
from web.cli.main import main


def test_the_year_from_cases_to_an_appeal_on_the_command_line(
    demo_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = str(RUN_ID)
    with cli_runner(demo_url, tmp_path, monkeypatch) as runner:
        def kaohe(actor: str, *args: str) -> tuple[int, str]:
            result = runner.invoke(main, list(args), env={"KAOHE_ACTOR": actor})
            return result.exit_code, result.output

        code, out = kaohe("office.zhao", "case", "open", run)
        assert code == 0 and "474 case(s) opened, 0 already open" in out, out
        assert "0 case(s) opened, 474 already open" in kaohe("office.zhao", "case", "open", run)[1]
        cases = json.loads(kaohe("office.zhao", "case", "list", run, "--json")[1])
        ids = [str(c["id"]) for c in cases]
        code, out = kaohe("office.li", "case", "review", ids[0])
        assert code == 1 and "office.li is the proposer" in out
        code, out = kaohe("auditor.chen", "case", "review", *ids)
        assert code == 0 and "474 case(s): review" in out
        code, out = kaohe("office.zhao", "case", "review", ids[0], ids[1])
        assert code == 1 and "refused for 2 item(s), nothing changed" in out
        approve = ["case", "approve", *ids, "--idempotency-key", "approve-all"]
        assert kaohe("office.zhao", *approve)[0] == 0
        code, out = kaohe("office.zhao", *approve)
        assert code == 0 and "already done, nothing changed" in out
        code, out = kaohe("office.zhao", "publish", run)
        assert code == 0 and f"run {run} published" in out, out
        crit = next(c for c in cases if c["unit"] == "C03" and c["rule"] == "deduction.criticism")
        code, out = kaohe("c03.rep", "appeal", "file", run, "C03", "--firing", str(crit["firing"]),
                          "--grounds", "the notice names another county", "--evidence", "doc 118")
        assert code == 0 and "appeal 1 filed" in out, out
        code, out = kaohe("auditor.chen", "appeal", "decide", "1", "overturned", "--reason", "r")
        assert code == 1 and "auditor.chen is the reviewer of case" in out
        code, out = kaohe("reviewer.sun", "appeal", "decide", "1", "overturned", "--reason", "wrong county")
        assert code == 0 and "appeal 1 overturned" in out and "supersedes the previous run" in out, out
        code, out = kaohe("reviewer.sun", "case", "history", str(crit["id"]))
        assert code == 0 and "review" in out and "auditor.chen" in out
        code, out = kaohe("committee.wu", "seal", "2")
        assert code == 1 and "the committee seals after the publication window" in out
        code, out = kaohe("x", "audit", "verify")
        assert code == 0, out
