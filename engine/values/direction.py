"""Which way is better: the one meaning of "completion", "over" and "lagging" for every direction.

Every derived field that compares an actual value with a target (completion, over and shortfall
percentages, schedule percentages, lagging, ranks and averages) goes through here, so that "over"
always means *better than the target*, "shortfall" *worse than it*, and a rule written once reads
the same for a GDP target, a PM2.5 target and a petitions control line (docs/rulepacks.md,
"Direction"):

- ``higher``: completion = actual ÷ target × 100, the classic ratio.
- ``lower`` and ``control_line``: completion = 100 + (target − actual) ÷ target × 100: each
  percentage point of the target the actual stays *below* it counts one point above 100 %, each
  point above it one point below 100 %. Linear rather than target ÷ actual, so that it is defined
  at an actual of 0 (completion 200) and reads as a distance: 4 petitions against a line of 2 are
  100 % over the line (shortfall 100), 1 petition is 50 % better than the line (over 50).

A control line is a lower-is-better target whose *scoring* is met-or-not at the line; its facts
measure the distance from the line exactly as for ``lower``. A target of 0 has no percentage (the
fields are left out); a negative target is measured against its magnitude, so more of a
higher-is-better value is still better.
"""

from __future__ import annotations

from decimal import Decimal

from engine.values.decimals import div

_HUNDRED = Decimal(100)
_ZERO = Decimal(0)


def higher_is_better(direction: str) -> bool:
    """``higher``: more is better; ``lower`` and ``control_line``: less is better."""
    return direction == "higher"


def better(direction: str, a: Decimal, b: Decimal) -> bool:
    """Whether the value ``a`` is strictly better than ``b``."""
    return a > b if direction == "higher" else a < b


def completion(direction: str, actual: Decimal, target: Decimal) -> Decimal | None:
    """The completion percentage (100 = exactly on target, above 100 = better); None for a 0 target."""
    if target == 0:
        return None
    if direction == "higher":
        if target > 0:
            return div(actual * _HUNDRED, target)  # the ratio, rounded once (as it always was)
        return _HUNDRED + div((actual - target) * _HUNDRED, -target)
    return _HUNDRED + div((target - actual) * _HUNDRED, abs(target))


def over(completion_pct: Decimal) -> Decimal:
    """How far better than the target, in percent of it (0 when not better)."""
    return max(completion_pct - _HUNDRED, _ZERO)


def shortfall(completion_pct: Decimal) -> Decimal:
    """How far worse than the target, in percent of it (0 when not worse)."""
    return max(_HUNDRED - completion_pct, _ZERO)


def met(direction: str, actual: Decimal, target: Decimal) -> bool:
    """The target is reached: at least it when higher is better, at most it otherwise."""
    return actual >= target if direction == "higher" else actual <= target


def lagging(direction: str, actual: Decimal, expected: Decimal) -> bool:
    """Behind the schedule: worse than the cumulative value expected by now."""
    return better(direction, expected, actual)


def toward_schedule(direction: str, actual: Decimal, expected: Decimal) -> Decimal:
    """``actual`` moved just far enough to meet ``expected`` (unchanged if it already does)."""
    return max(actual, expected) if direction == "higher" else min(actual, expected)
