"""All mapped classes; importing this module registers every table on ``Base.metadata``."""

from store.models.accounts import Account, AccountRole, AccountUnit, ApiToken
from store.models.audit import AuditEvent, LedgerCheckpoint
from store.models.cases import Appeal, AppealFiring, Case, CaseEvent, IdempotencyKey, Publication
from store.models.events import Event
from store.models.rules import Cut, Firing, RulePack, Run, RunSnapshot, ScoreSheet
from store.models.scheme import Category, Indicator, Scheme, Section, Unit
from store.models.targets import ProgressReport, Target, TargetCoUnit
from store.models.year import (
    NoticeEvent,
    SupervisionNotice,
    TargetAdjustment,
    TargetAdjustmentEvent,
    Verification,
)

__all__ = [
    "Account",
    "AccountRole",
    "AccountUnit",
    "ApiToken",
    "Appeal",
    "AppealFiring",
    "AuditEvent",
    "Case",
    "CaseEvent",
    "Category",
    "Cut",
    "Event",
    "Firing",
    "IdempotencyKey",
    "Indicator",
    "LedgerCheckpoint",
    "NoticeEvent",
    "ProgressReport",
    "Publication",
    "RulePack",
    "Run",
    "RunSnapshot",
    "Scheme",
    "ScoreSheet",
    "Section",
    "SupervisionNotice",
    "Target",
    "TargetAdjustment",
    "TargetAdjustmentEvent",
    "TargetCoUnit",
    "Unit",
    "Verification",
]
