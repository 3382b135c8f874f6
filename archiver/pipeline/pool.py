"""The one worker pool: bounded, in order, and gone when the process that started it is.

Verification, rendering and the site's pages all run in worker processes. Each of them
here goes through :class:`WorkerPool`, which

- hands out work in batches and keeps only a few batches in flight, so memory stays flat
  whatever the number of inputs, and yields results in input order;
- runs the work in this process when one job is asked for (no processes at all);
- ends its workers when the process that started them is gone: a main process killed on
  its own (the OOM killer, a closed terminal, Task Manager's "End task") must not leave
  workers behind, still holding the archive (see :mod:`archiver.archive.lock`).
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import threading
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")

WATCH_SECONDS = 0.5  # how often a worker looks for its parent


class WorkerPool:
    """``jobs`` worker processes, each set up once with ``initializer(*initargs)``; with
    ``jobs == 1`` the work runs here, set up the same way. Use it as a context manager."""

    def __init__(self, jobs: int, initializer: Callable[..., None] | None = None, initargs: tuple = (),
                 *, fresh: bool = False) -> None:
        """``fresh``: workers start from a new interpreter (spawn) rather than a copy of this
        process, so they do not carry this process's heap."""
        self.jobs = max(1, jobs)
        self._executor: ProcessPoolExecutor | None = None
        if self.jobs > 1 or fresh:
            context = multiprocessing.get_context("spawn") if fresh else None
            self._executor = ProcessPoolExecutor(max_workers=self.jobs, mp_context=context, initializer=_start_worker,
                                                 initargs=(os.getpid(), initializer, initargs))
        elif initializer is not None:
            initializer(*initargs)

    @property
    def parallel(self) -> bool:
        return self._executor is not None

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(cancel=exc[0] is not None)

    def close(self, cancel: bool = False) -> None:
        """Wait for the workers to end (``cancel``: drop the work not started, after a failure)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=cancel)

    def submit(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> Future:
        if self._executor is None:
            future: Future = Future()
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # noqa: BLE001 - handed to whoever waits for it
                future.set_exception(exc)
            return future
        return self._executor.submit(fn, *args, **kwargs)

    def map(self, fn: Callable[[T], R], items: Iterable[T], *, chunksize: int = 1) -> Iterator[R]:
        """Results in order; every item is submitted at once (for a package's members)."""
        if self._executor is None:
            return map(fn, items)
        return self._executor.map(fn, items, chunksize=chunksize)

    def imap(self, fn: Callable[[T], R], items: Iterable[T], *, batch: int = 16, count: int = 0,
             tick: Callable[[], None] | None = None) -> Iterator[R]:
        """Results in input order, items sent ``batch`` at a time with at most three batches
        per worker in flight (one task per item cost the pool's bookkeeping a tenth of a
        verification). ``count``, when known, shrinks the batches so that a small run
        still keeps every worker busy (at least four batches each)."""
        if self._executor is None:
            for item in items:
                yield fn(item)
                if tick:
                    tick()
            return
        size = max(1, min(batch, count // (4 * self.jobs))) if count else batch
        batches = iter(lambda it=iter(items): list(itertools.islice(it, size)), [])
        window: deque[Future] = deque()
        for chunk in batches:
            window.append(self._executor.submit(_run_batch, fn, chunk))
            if len(window) >= 3 * self.jobs:
                yield from _results(window.popleft(), tick)
        while window:
            yield from _results(window.popleft(), tick)


def _results(future: Future, tick: Callable[[], None] | None) -> Iterator[Any]:
    for result in future.result():
        yield result
        if tick:
            tick()


def _run_batch(fn: Callable[[T], R], batch: list[T]) -> list[R]:
    return [fn(item) for item in batch]


def _start_worker(parent: int, initializer: Callable[..., None] | None, initargs: tuple) -> None:
    threading.Thread(target=_watch_parent, args=(parent,), name="parent-watch", daemon=True).start()
    if initializer is not None:
        initializer(*initargs)


def _watch_parent(parent: int) -> None:
    """End this worker as soon as its parent is gone. A worker blocked on the task queue
    would otherwise wait forever: its siblings hold the queue open."""
    alive = _parent_check(parent)
    while alive():
        time.sleep(WATCH_SECONDS)
    os._exit(1)


def _parent_check(parent: int) -> Callable[[], bool]:
    if os.name == "nt":  # getppid() keeps answering the dead parent's id on Windows
        process = multiprocessing.parent_process()
        return process.is_alive if process is not None else (lambda: True)
    return lambda: os.getppid() == parent
