"""Kaohe's pure rules engine: dataclasses in, results out. Only ``engine.run`` imports durable.

The rest of the project uses what this module exports; the rooms behind it are
``engine.pack`` (the pack language), ``engine.run`` (one run's stages), ``engine.explain``
(explanations and counterfactuals) and ``engine.values`` (exact decimals, canonical bytes,
periods, vocabularies). The run's input is :mod:`engine.facts`, its output :mod:`engine.result`.
"""

from engine.explain.counterfactual import Counterfactual, counterfactuals
from engine.explain.explanation import explain, render_explanation
from engine.facts import FiringOverride, PriorResult, Snapshot
from engine.pack.check import validate_pack
from engine.pack.document import pack_document
from engine.pack.load import PackError, PackIssue, RulePack, load_pack
from engine.result import Cut, Firing, MatchedFact, RunResult, ScoreSheet, SectionScore, VetoNote, WhyNot
from engine.run.evaluate import Prepared, evaluate, prepare
from engine.run.progress import Progress, silent
from engine.run.snapshot_check import SnapshotError, check_snapshot
from engine.values.periods import Period, PeriodError, parse_period

__all__ = [
    "Counterfactual",
    "Cut",
    "Firing",
    "FiringOverride",
    "MatchedFact",
    "PackError",
    "PackIssue",
    "Period",
    "PeriodError",
    "Prepared",
    "PriorResult",
    "Progress",
    "RulePack",
    "RunResult",
    "ScoreSheet",
    "SectionScore",
    "Snapshot",
    "SnapshotError",
    "VetoNote",
    "WhyNot",
    "check_snapshot",
    "counterfactuals",
    "evaluate",
    "explain",
    "load_pack",
    "pack_document",
    "parse_period",
    "prepare",
    "render_explanation",
    "silent",
    "validate_pack",
]
