"""Assessment runs: freeze the facts, evaluate the approved pack, store everything at once.

The public names other code uses; the modules behind them are :mod:`workflows.runs.create` (a
run made and stored) and :mod:`workflows.runs.rows` (its rows, made and written in bulk).
"""

from workflows.runs.create import (
    ReplayReport,
    RunOutcome,
    RunSummary,
    _engine_sheet,
    create_run,
    get_run,
    load_result,
    lock_current,
    replay,
)

__all__ = [
    "ReplayReport",
    "RunOutcome",
    "RunSummary",
    "_engine_sheet",
    "create_run",
    "get_run",
    "load_result",
    "lock_current",
    "replay",
]
