"""What the demo adds for the web app: its rule pack approved, two runs, the scheme in force, one
account per role.

The demo year 2024 is over: its scheme is put in force (``scheme.lock`` in the ledger) once its
facts are loaded, so its cut-off (2024-12-31) binds — a reporter's late correction is refused and
told to ask the office to verify it (核定), as in a real office after the year.

The demo passwords are printed by ``kaohe demo`` and written in the README: they are for the demo
database only. Every step is skipped when already done, so loading the demo twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from store import Account, RulePack, Run, Scheme
from workflows.accounts import create_account
from workflows.demo import DEMO_SCHEME_CODE
from workflows.freeze import put_in_force
from workflows.packs import approve_pack, store_pack
from workflows.runs import create_run

DEMO_PACK = Path(__file__).resolve().parents[1] / "rulepacks" / "demo-city-2024.yaml"
DEMO_PERIODS = ("2024-Q3", "2024")
# The pack is stored by one member of the office and approved by another (four eyes).
PACK_AUTHOR = "demo:office"
PACK_APPROVER = "demo:office-head"
DEMO_IN_FORCE = "江澄市2024年度考核办法印发施行（演示）"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    display_name: str
    role: str
    units: tuple[str, ...] = ()


DEMO_ACCOUNTS = (
    DemoAccount("admin", "demo-admin-2024", "系统管理员", "admin"),
    DemoAccount("office", "demo-office-2024", "市考核办 李明", "office"),
    DemoAccount("auditor", "demo-auditor-2024", "审核员 王芳", "auditor"),
    DemoAccount("reviewer", "demo-reviewer-2024", "复核员 陈静", "reviewer"),
    DemoAccount("committee", "demo-committee-2024", "考核委员会 赵刚", "committee"),
    DemoAccount("reporter", "demo-reporter-2024", "青溪县填报员 刘洋", "reporter", ("C01",)),
)


def prepare_demo_web(session: Session, *, actor: str) -> list[str]:
    """Approve the demo pack, put the scheme in force, run the demo periods and create the demo
    accounts (each once)."""
    done: list[str] = []
    pack = session.scalars(select(RulePack).where(RulePack.scheme_code == DEMO_SCHEME_CODE)).first()
    if pack is None:
        stored = store_pack(session, DEMO_PACK.read_text(encoding="utf-8"), DEMO_PACK.name, actor=PACK_AUTHOR)
        pack = stored.row
        done.append(f"rule pack {pack.name}@{pack.version} stored by {PACK_AUTHOR}")
    if pack.status == "draft":
        approve_pack(session, f"{pack.name}@{pack.version}", approver=PACK_APPROVER)
        done.append(f"rule pack {pack.name}@{pack.version} approved by {PACK_APPROVER}")
    scheme = session.scalars(select(Scheme).where(Scheme.code == DEMO_SCHEME_CODE)).one()
    if scheme.status == "draft":
        put_in_force(session, scheme, actor=PACK_AUTHOR, reason=DEMO_IN_FORCE)
        done.append(f"scheme {DEMO_SCHEME_CODE} in force: its cut-off {scheme.cutoff_date} binds")
    if not _has_runs(session):
        for period in DEMO_PERIODS:
            outcome = create_run(session, DEMO_SCHEME_CODE, period, actor=PACK_AUTHOR)
            done.append(f"run {outcome.run.id} of {DEMO_SCHEME_CODE} {period}: "
                        f"{outcome.result.firing_count} firings, {outcome.result.sheet_count} score sheets")
    for a in DEMO_ACCOUNTS:
        if session.scalar(select(Account.id).where(Account.username == a.username)) is None:
            create_account(session, a.username, a.password, display_name=a.display_name, roles=[a.role],
                           actor=actor, scheme_code=DEMO_SCHEME_CODE if a.units else None,
                           unit_codes=a.units)
            done.append(f"account {a.username} ({a.role})")
    return done


def _has_runs(session: Session) -> bool:
    scheme_id = session.scalar(select(Scheme.id).where(Scheme.code == DEMO_SCHEME_CODE))
    return session.scalar(select(Run.id).where(Run.scheme_id == scheme_id).limit(1)) is not None
