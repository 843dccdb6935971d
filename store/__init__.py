"""Kaohe's persistence: SQLAlchemy 2 typed models and the session factory.

The schema is made only by the Alembic migrations in ``migrations/``; this package never calls
``create_all``. It reads no environment: callers pass a database URL.
"""

from store.base import Base
from store.db import make_engine, make_session_factory
from store.models import (
    Account,
    AccountRole,
    AccountUnit,
    ApiToken,
    Appeal,
    AppealFiring,
    AuditEvent,
    Case,
    CaseEvent,
    Category,
    Cut,
    Event,
    Firing,
    IdempotencyKey,
    Indicator,
    ProgressReport,
    Publication,
    RulePack,
    Run,
    Scheme,
    ScoreSheet,
    Section,
    Target,
    TargetCoUnit,
    Unit,
)

__all__ = [
    "Account",
    "AccountRole",
    "AccountUnit",
    "ApiToken",
    "Appeal",
    "AppealFiring",
    "AuditEvent",
    "Base",
    "Case",
    "CaseEvent",
    "Category",
    "Cut",
    "Event",
    "Firing",
    "IdempotencyKey",
    "Indicator",
    "ProgressReport",
    "Publication",
    "RulePack",
    "Run",
    "Scheme",
    "ScoreSheet",
    "Section",
    "Target",
    "TargetCoUnit",
    "Unit",
    "make_engine",
    "make_session_factory",
]
