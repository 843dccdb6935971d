"""Accounts for the year cases' separation-of-duties tests."""

from __future__ import annotations

from sqlalchemy.orm import Session

from workflows.accounts import create_account


def account(session: Session, name: str, role: str, *units: str) -> None:
    """An account with one role, scoped to ``units`` of the demo scheme when any are given."""
    create_account(
        session,
        name,
        "long-enough-pw",
        display_name=name,
        roles=[role],
        actor="admin",
        scheme_code="DEMO-2024" if units else None,
        unit_codes=list(units),
    )
