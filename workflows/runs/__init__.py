"""Assessment runs: freeze the facts, evaluate the approved pack, store everything at once.

The names other code uses, from the package's rooms: :mod:`workflows.runs.create` (a run made
and stored), :mod:`workflows.runs.rows` (its rows, made and written in bulk) and
:mod:`workflows.runs.stored` (a stored run found, locked, read back and replayed). The rooms
never import this module.
"""

from workflows.runs.create import RunOutcome, RunSummary, create_run
from workflows.runs.stored import ReplayReport, engine_sheet, get_run, load_result, lock_current, replay

# ``workflows.readmodels`` still imports the stored score sheet's converter by its old, private name.
_engine_sheet = engine_sheet

__all__ = [
    "ReplayReport",
    "RunOutcome",
    "RunSummary",
    "_engine_sheet",
    "create_run",
    "engine_sheet",
    "get_run",
    "load_result",
    "lock_current",
    "replay",
]
