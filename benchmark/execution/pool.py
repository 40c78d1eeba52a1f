"""Worker processes whose faults stay local: each worker runs one job at a time, so a worker
that dies (a crash, `os._exit`, the kernel's out-of-memory killer) fails only the job it ran; a
fresh worker takes its place and the other jobs go on. `imap_isolated` runs many jobs on a pool
of them, `Isolated` one job at a time on one of them (a Dask task's job: the Dask worker and the
other jobs on it live on). Workers die with the thread that started them — a SIGTERM or SIGKILL
of `run` leaves none behind (Linux: `PR_SET_PDEATHSIG`; elsewhere an idle worker ends when its
pipe to the parent closes).

Example:
    >>> sorted(imap_isolated(abs, [-1, 2], workers=2))
    [(-1, 1), (2, 2)]
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import pickle
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

__all__ = ["Lost", "Isolated", "imap_isolated"]

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_GRACE_SECONDS = 5.0  # how long a worker may take to exit after its pipe closes
_STARTING = threading.Lock()  # one thread at a time lifts the daemon flag (`_Worker`)


@dataclass(frozen=True)
class Lost:
    """The result of a job whose worker process died before answering: why, in words."""

    reason: str


def _die_with_parent(parent: int) -> None:
    """Ask the kernel to kill this process when its parent dies (Linux), and exit at once if the
    parent is already gone."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def _serve(
    conn: Connection,
    parent: int,
    function: Callable[[Any], Any],
    initializer: Callable[..., None] | None,
    initargs: tuple,
) -> None:
    """A worker's loop: receive an item, send back `function(item)`, until the pipe closes.
    Ctrl-C is the parent's to handle: it ends the workers itself."""
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if initializer is not None:
        initializer(*initargs)
    while True:
        try:
            item = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(function(item))


def _why(process: BaseProcess) -> str:
    process.join(_GRACE_SECONDS)
    code = process.exitcode
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        hint = " (e.g. out of memory)" if -code == signal.SIGKILL else ""
        return f"its worker process was killed by {name}{hint}"
    return f"its worker process exited with status {code} before returning a result"


class _Worker:
    """One worker process, busy with at most one item."""

    def __init__(self, context: Any, function: Callable, initializer: Any, initargs: tuple) -> None:
        self.conn, child = context.Pipe()
        args = (child, os.getpid(), function, initializer, initargs)
        self.process = context.Process(target=_serve, args=args, daemon=True)
        # multiprocessing refuses children to a daemonic process (a Dask worker under its nanny)
        # lest they outlive it; these die with their parent (`_die_with_parent`)
        with _STARTING:
            current = multiprocessing.current_process()
            daemonic, current.daemon = current.daemon, False
            try:
                self.process.start()
            finally:
                current.daemon = daemonic
        child.close()
        self.item: Any = None
        self.busy = False

    def send(self, item: Any) -> None:
        self.item, self.busy = item, True
        self.conn.send(item)

    def receive(self) -> Any:
        """The result of the item sent, or `Lost` if the process died (it is then closed)."""
        try:
            result = self.conn.recv()
        except (EOFError, OSError, pickle.UnpicklingError):
            result = Lost(_why(self.process))
            self.conn.close()
        self.busy = False
        return result

    def stop(self) -> None:
        self.conn.close()  # an idle worker's loop ends
        self.process.join(0.1 if self.busy else _GRACE_SECONDS)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


class Isolated:
    """`function(item)` computed in a worker process (spawned at the first call, kept for the
    next), one item at a time; the result is `Lost` when the process died meanwhile, and a fresh
    one serves the next call. The process dies with the thread that started it: keep one per
    thread.

    Example:
        >>> isolated = Isolated(abs)
        >>> isolated(-3), isolated(2)
        (3, 2)
        >>> isolated.close()
    """

    def __init__(
        self,
        function: Callable[[Any], Any],
        initializer: Callable[..., None] | None = None,
        initargs: tuple = (),
    ) -> None:
        self._args = (multiprocessing.get_context("spawn"), function, initializer, initargs)
        self._worker: _Worker | None = None
        self._lock = threading.Lock()  # held while an item is computed

    def __call__(self, item: Any) -> Any:
        with self._lock:
            if self._worker is None or not self._worker.process.is_alive():
                self._stop()
                self._worker = _Worker(*self._args)
            worker = self._worker
            with contextlib.suppress(OSError):  # it died since: `receive` says how
                worker.send(item)
            result = worker.receive()
            if isinstance(result, Lost):
                self._worker = None
            return result

    def close(self) -> None:
        """End the worker process, unless it is computing an item (from another thread)."""
        if self._lock.acquire(blocking=False):
            try:
                self._stop()
            finally:
                self._lock.release()

    def _stop(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self._worker = None


def imap_isolated(
    function: Callable[[Any], Any],
    items: Iterable[Any],
    workers: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple = (),
) -> Iterator[tuple[Any, Any]]:
    """Yield (item, `function(item)`) as each finishes, computed by up to `workers` spawned
    processes (each first calls `initializer(*initargs)`); the result is `Lost` when the worker
    died running the item. `function` and the items must be picklable. Every worker is ended
    when the iteration ends, however it ends."""
    context = multiprocessing.get_context("spawn")
    pending = deque(items)
    pool: list[_Worker] = []
    try:
        while pending or any(w.busy for w in pool):
            while pending and sum(w.busy for w in pool) < workers:
                idle = [w for w in pool if not w.busy]
                worker = idle[0] if idle else _Worker(context, function, initializer, initargs)
                if not idle:
                    pool.append(worker)
                worker.send(pending.popleft())
            busy = {w.conn: w for w in pool if w.busy}
            for conn in wait(list(busy)):
                worker = busy[conn]
                result = worker.receive()
                if isinstance(result, Lost):
                    pool.remove(worker)
                yield worker.item, result
    finally:
        for worker in pool:
            worker.stop()
