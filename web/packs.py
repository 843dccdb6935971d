"""Rule-pack versions as the API and the pages show them: a version by name (404 if there is
none), the diff of two versions' YAML, and a draft's impact computed as the current reader."""

from __future__ import annotations

import difflib

from flask import abort
from sqlalchemy import select
from sqlalchemy.orm import Session

from store import RulePack
from web.security.policy import current
from workflows.impact import ImpactReport, pack_impact


def pack_version(session: Session, name: str, version: str) -> RulePack:
    row = session.scalars(select(RulePack).where(RulePack.name == name, RulePack.version == version)
                          ).one_or_none()
    if row is None:
        abort(404, description=f"no rule pack {name}@{version}")
    return row


def pack_diff(old: RulePack, new: RulePack) -> list[str]:
    """A unified diff of two versions' YAML text, line by line."""
    return list(difflib.unified_diff(
        old.yaml_text.splitlines(), new.yaml_text.splitlines(),
        fromfile=f"{old.name}@{old.version}", tofile=f"{new.name}@{new.version}", lineterm="", n=3))


def impact_of(session: Session, draft: RulePack, scheme: str, period: str | None) -> ImpactReport:
    return pack_impact(session, scheme, f"{draft.name}@{draft.version}", period, actor=current().username)
