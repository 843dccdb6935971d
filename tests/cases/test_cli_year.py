"""``kaohe target``, ``kaohe verify`` and ``kaohe notice`` end to end, as each actor (KAOHE_ACTOR).

The commands use the real clock and the demo scheme's adjustment cut-off (2024-09-30) has passed,
so the test lifts the cut-off (the edge itself is tested with an injected clock)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

import audit
from store import Scheme, make_engine
from tests.cases.conftest import RUN_ID
from tests.cli_support import cli_runner
from web.cli.main import main


def test_the_year_cases_on_the_command_line(
    demo_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(demo_url)
    with Session(engine) as s, s.begin():  # through a session, so the ledger binds the change
        s.execute(update(Scheme).values(adjustment_cutoff_date=None))
    engine.dispose()
    with cli_runner(demo_url, tmp_path, monkeypatch) as runner:

        def kaohe(actor: str, *args: str) -> tuple[int, str]:
            result = runner.invoke(main, list(args), env={"KAOHE_ACTOR": actor})
            return result.exit_code, result.output

        code, out = kaohe(
            "reporter.li", "target", "adjust", "C01", "CK02", "--value", "", "--reason", "drop it"
        )
        assert code == 1 and "从一而终" in out, out
        code, out = kaohe(
            "reporter.li",
            "target",
            "adjust",
            "C01",
            "CK02",
            "--value",
            "40",
            "--reason",
            "flood",
            "--evidence",
            "doc-7",
        )
        assert code == 0 and "adjustment 1: requested — target C01 × CK02: annual value → 40" in out, out
        code, out = kaohe("reporter.li", "target", "approve", "1")
        assert code == 1 and "reporter.li is the requester" in out
        code, out = kaohe("office.zhao", "target", "approve", "1")
        assert code == 0 and "adjustment 1: approved" in out, out
        code, out = kaohe("office.zhao", "target", "reject", "1", "--reason", "late")
        assert code == 1 and "target adjustment 1 is approved: 'reject' is not allowed from approved" in out
        assert "1 adjustment(s)" in kaohe("office.zhao", "target", "adjustments")[1]

        code, out = kaohe(
            "office.zhao",
            "verify",
            "report",
            "C01",
            "CK01",
            "2024-03",
            "--value",
            "5.1",
            "--reason",
            "统计局",
        )
        assert code == 0 and "verification #1" in out, out
        code, out = kaohe(
            "office.qian",
            "verify",
            "report",
            "C01",
            "CK01",
            "2024-03",
            "--value",
            "5.4",
            "--reason",
            "revised",
        )
        assert code == 0 and "verified 5.4" in out and "before 5.1000); verification #2" in out, out
        code, out = kaohe("office.zhao", "verify", "event", "PRJ-02", "--quantity", "900", "--reason", "cut")
        assert code == 0 and "event PRJ-02: verified 900" in out, out

        code, out = kaohe("office.zhao", "notice", "raise", str(RUN_ID))
        assert code == 0 and "3 opened, 0 escalated" in out, out
        code, out = kaohe("office.zhao", "notice", "raise", str(RUN_ID))
        assert code == 0 and "0 opened, 0 escalated, 0 already at listed supervision, 3 already raised" in out
        notices = json.loads(kaohe("office.zhao", "notice", "list", "--open", "--json")[1])
        first, second = notices[0]["id"], notices[1]["id"]
        code, out = kaohe(
            "unit.c02", "notice", "respond", str(first), "--text", "plan", "--evidence", "p.pdf"
        )
        assert code == 0 and f"notice {first}: reminder responded" in out, out
        assert f"notice {first}: reminder closed" in kaohe("office.zhao", "notice", "close", str(first))[1]
        code, out = kaohe("office.zhao", "notice", "escalate", str(second), "--reason", "no answer")
        assert code == 0 and f"escalated notice {second} → " in out and "supervision_order issued" in out, out
        assert "2 notice(s)" in kaohe("office.zhao", "notice", "list", "--open")[1]

    engine = make_engine(demo_url)
    with Session(engine) as s:
        assert audit.verify(s).ok
    engine.dispose()
