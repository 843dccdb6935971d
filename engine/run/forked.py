"""One computation in a forked child while this process goes on with other work.

The child inherits everything (copy-on-write) and sends back only its small, picklable result —
or the error that stopped it, raised in the parent by :meth:`Forked.result`. For CPU-bound steps
of a large run that are independent of what the parent does meanwhile (durable_rules and the
engine are single-threaded; a second core is otherwise idle).
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Generic, TypeVar

T = TypeVar("T")


class WorkerError(RuntimeError):
    """A forked computation failed (its error, as text) or died without a result."""


class Forked(Generic[T]):
    def __init__(self, compute: Callable[[], T]) -> None:
        ctx = mp.get_context("fork")
        self._receive, send = ctx.Pipe(duplex=False)
        self._child = ctx.Process(target=_run, args=(send, compute), daemon=True)
        self._child.start()
        send.close()

    def result(self) -> T:
        try:
            status, payload = self._receive.recv()
        except EOFError:
            status, payload = "error", "it died without a result"
        finally:
            self._child.join()
            self._receive.close()
        if status != "ok":
            raise WorkerError(f"worker {self._child.pid}: {payload}")
        return payload  # type: ignore[no-any-return]

    def cancel(self) -> None:
        """Stop the computation if it still runs (its result is no longer wanted)."""
        if self._child.is_alive():
            self._child.terminate()
        self._child.join()
        self._receive.close()


def _run(send: Connection, compute: Callable[[], object]) -> None:
    try:
        send.send(("ok", compute()))
    except BaseException as exc:  # reported to the parent, which raises it
        send.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        send.close()
