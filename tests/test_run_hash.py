"""The demo year's run hash, pinned: a refactoring that changes one byte of any result fails here.

The hash covers every firing, score sheet and cut in canonical form (docs/audit-format.md), so
an equal hash means the run meant exactly the same on this code as on the code it was pinned on,
whichever backend stored it and whichever process made its rows. Change the constant only with a
change of meaning, and say in the commit which firings changed and why.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from workflows.demo import load_demo
from workflows.packs import approve_pack, store_pack
from workflows.runs import create_run, load_result

ROOT = Path(__file__).resolve().parents[1]
PACK = ROOT / "rulepacks" / "demo-city-2024.yaml"
DEMO_YEAR_HASH = "2281b8d3d9563aa3bdca584e2741ee3110c13780ed163e6cd8b3237b2d86a115"
DEMO_YEAR_FIRINGS = 1270


def test_the_demo_years_run_hash_is_the_pinned_one(session: Session) -> None:
    load_demo(session, ROOT / "demo" / "city")
    store_pack(session, PACK.read_text(encoding="utf-8"), PACK.name, actor="office.li")
    approve_pack(session, "demo-city-2024@1", approver="director.wang")
    outcome = create_run(session, "DEMO-2024", "2024", actor="office.li")
    assert (outcome.result.firing_count, outcome.run.run_hash) == (DEMO_YEAR_FIRINGS, DEMO_YEAR_HASH)
    assert load_result(session, outcome.run).run_hash == DEMO_YEAR_HASH
