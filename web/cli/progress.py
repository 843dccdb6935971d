"""A long command's progress on the terminal: one bar per phase of a run (snapshot, derive, match
…, firings, ledger), on stderr — stdout, and ``--json`` with it, stay clean."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

import click

if TYPE_CHECKING:  # click's bar type, named for the annotation only
    from click._termui_impl import ProgressBar


class PhaseBars:
    """A ``progress(phase, done, total)`` callback (``engine.run.progress``) that draws a bar per phase:
    a province's year takes most of a minute, and a terminal that shows nothing for that long looks
    hung. Only when ``shown`` (by default: when ``file`` is a terminal); :meth:`close` ends the
    last bar."""

    def __init__(self, file: TextIO | None = None, *, shown: bool | None = None) -> None:
        stream = sys.stderr if file is None else file
        self.file = stream
        self.shown = stream.isatty() if shown is None else shown
        self._phase: str | None = None
        self._bar: ProgressBar[int] | None = None
        self._length = 1

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.shown:
            return
        if phase != self._phase:
            self.close()
            self._phase, self._length = phase, max(total, 1)
            self._bar = click.progressbar(length=self._length, label=f"{phase:>16}", file=self.file)
            self._bar.render_progress()
        bar = self._bar
        assert bar is not None
        if done > bar.pos:
            bar.update(min(done, self._length) - bar.pos)

    def close(self) -> None:
        """The current phase done: its bar at 100 % and ended with a new line."""
        bar, self._bar, self._phase = self._bar, None, None
        if bar is not None:
            bar.update(self._length - bar.pos)
            bar.render_finish()
