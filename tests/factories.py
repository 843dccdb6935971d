"""Small builders for rows that many tests need."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from store import Category, Scheme


def make_scheme_with_category(session: Session, code: str = "T2024") -> tuple[Scheme, Category]:
    scheme = Scheme(code=code, year=2024, name="测试方案", status="draft",
                    cutoff_date=dt.date(2024, 12, 31), publication_days=7, appeal_days=5)
    category = Category(scheme=scheme, code="county", name_zh="县区", name_en="Counties",
                        grade_rules={})
    session.add_all([scheme, category])
    session.flush()
    return scheme, category
