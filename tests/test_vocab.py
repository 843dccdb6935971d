"""The engine's vocabularies mirror the database's check constraints: they must never drift apart."""

from __future__ import annotations

import engine.values.vocab as ev
import store.models.vocab as sv


def test_engine_and_store_vocabularies_agree() -> None:
    for name in ("UNIT_LEVELS", "DIRECTIONS", "SCORING_METHODS", "SCHEDULE_KINDS", "EVENT_KINDS",
                 "EVENT_LEVELS", "GRADES"):
        assert getattr(ev, name) == getattr(sv, name), name
