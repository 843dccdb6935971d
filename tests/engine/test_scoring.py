"""Each scoring method with the numbers of published methods (docs/design.md, "Rule semantics")."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from engine.pack.scoring import ScoreInput, check_params, score


def run(
    method: str,
    points: str,
    annual: str,
    actual: str,
    params: dict[str, object] | None = None,
    direction: str = "higher",
    rank: int | None = None,
) -> D:
    got, _ = score(
        method,
        check_params(method, params or {}),
        ScoreInput(D(points), D(annual), D(actual), direction, rank),
    )
    return got


def test_pass_fail() -> None:
    assert run("pass_fail", "8", "4", "4") == 8
    assert run("pass_fail", "8", "4", "3") == 0


def test_proportional_with_ceiling() -> None:
    assert run("proportional", "10", "100", "90") == D("9")
    assert run("proportional", "6", "10", "20", {"ceiling": "1.5"}) == D("9")  # 200% capped at 150%
    assert run("proportional", "8", "100", "130") == D("8")  # default ceiling 1


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        ("95", "5.5"),  # 5 points short × 0.1
        ("100", "6"),
        ("110", "8"),  # +0.2 × 10
        ("140", "13"),  # +0.2 × 30 + 0.1 × 10
        ("250", "16"),  # 0.2 × 30 + 0.1 × 120 = 18, net limit +10
        ("0", "-4"),  # −0.1 × 100 = −10, the net limit
    ],
)
def test_step_with_over_completion_bands_and_net_limit(actual: str, expected: str) -> None:
    params = {
        "per_point": "0.1",
        "over_bands": [{"upto": "130", "per_point": "0.2"}, {"per_point": "0.1"}],
        "net_limit": "10",
    }
    assert run("step", "6", "100", actual, params) == D(expected)


def test_ranking_decay_and_table() -> None:
    decay = {"step_pct": "5", "floor_pct": "50"}
    assert [run("ranking_decay", "40", "1", "1", decay, rank=r) for r in (1, 2, 3, 4, 20)] == [
        D(40),
        D(38),
        D(36),
        D(34),
        D(20),
    ]
    table = {"table": {"1": "5", "2": "4.5", "3": "4"}, "default": "1.8"}
    assert [run("ranking_table", "5", "1", "1", table, rank=r) for r in (1, 3, 9)] == [D(5), D(4), D("1.8")]


def test_lower_is_better() -> None:
    assert run("lower_better", "3", "35", "30", {"ceiling": "1.1"}, "lower") == D("3.3")  # 35/30 capped 1.1
    assert run("lower_better", "3", "35", "42", {}, "lower") == D("2.5")  # 3 × 35/42
    assert run("lower_better", "10", "100", "105", {"per_point_over": "0.5"}, "lower") == D("7.5")


def test_control_line() -> None:
    assert run("control_line", "2", "3", "3", {"over_score": "0"}, "control_line") == 2
    assert run("control_line", "2", "3", "4", {"over_score": "0"}, "control_line") == 0


def test_manual_rubric() -> None:
    assert run("rubric", "6", "100", "85", {"scale": "100"}) == D("5.1")
    assert run("rubric", "3", "3", "2.5") == D("2.5")


def test_unknown_or_float_params_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown parameter 'decay' for method ranking_decay"):
        check_params("ranking_decay", {"decay": "5"})
    with pytest.raises(ValueError, match="expected an exact decimal, got float"):
        check_params("proportional", {"ceiling": 1.2})
