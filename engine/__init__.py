"""Kaohe's pure rules engine: dataclasses in, results out. The only package that imports durable."""

from engine.evaluate import evaluate
from engine.explain import explain, render_explanation
from engine.pack import PackError, PackIssue, RulePack, load_pack
from engine.packcheck import validate_pack
from engine.result import Cut, Firing, MatchedFact, RunResult, ScoreSheet, SectionScore, VetoNote, WhyNot

__all__ = [
    "Cut",
    "Firing",
    "MatchedFact",
    "PackError",
    "PackIssue",
    "RulePack",
    "RunResult",
    "ScoreSheet",
    "SectionScore",
    "VetoNote",
    "WhyNot",
    "evaluate",
    "explain",
    "load_pack",
    "render_explanation",
    "validate_pack",
]
