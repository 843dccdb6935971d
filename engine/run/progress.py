"""Progress reporting for long runs, without any display library: the caller passes a callback.

``progress(phase, done, total)`` is called with ``done == 0`` when a phase starts and again as
work in it completes (``done == total`` at its end). The engine never prints; a command line
shows a bar (bench/run_year.py uses tqdm), a test passes nothing.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int], None]


def silent(phase: str, done: int, total: int) -> None:
    """The default: report nothing."""
