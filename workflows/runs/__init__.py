"""Assessment runs: freeze the facts, evaluate the approved pack, store everything at once.

The names other code uses, from the package's rooms:

- :mod:`workflows.runs.create` — what a run means: ``create_run`` as named steps (one run at a
  time, supersede the current run, never a sealed one, carry the appeals' outcomes over);
- :mod:`workflows.runs.machinery` — how a large run is made fast: which process does what and
  which bytes travel, behind one class the steps call;
- :mod:`workflows.runs.rows` — a run's rows in their exact form, made and written in bulk;
- :mod:`workflows.runs.stored` — a stored run found, locked, read back and replayed.

The rooms import one another in that order (create → machinery → rows; create → stored) and
never this module.
"""

from workflows.runs.create import RunOutcome, RunSummary, create_run
from workflows.runs.stored import ReplayReport, engine_sheet, get_run, load_result, lock_current, replay

__all__ = [
    "ReplayReport",
    "RunOutcome",
    "RunSummary",
    "create_run",
    "engine_sheet",
    "get_run",
    "load_result",
    "lock_current",
    "replay",
]
