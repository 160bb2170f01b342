"""One writer thread for the embedded database, fed a queue of small write functions.

Functions waiting together are run in one transaction (group commit); if that transaction
fails, each function is retried in a transaction of its own so one bad write cannot sink
the others. A caller's future resolves only after its transaction has committed.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import pyarrow as pa

from vigil.metrics import WRITE_FAILURES, WRITE_LATENCY, WRITE_QUEUE, WRITE_RETRIES
from vigil.store import Store

T = TypeVar("T")
WriteFn = Callable[[Store], Any]
log = logging.getLogger(__name__)
_STOP = object()
RETRY_ATTEMPTS = 5
RETRY_PAUSE_SECONDS = 0.01


class WriterClosedError(RuntimeError):
    """The writer has been closed; the write was not attempted."""


class Writer:
    """Serialises writes to a store on one thread, committing them in groups."""

    def __init__(self, store: Store, max_group: int = 64,
                 on_commit: Callable[[], None] | None = None) -> None:
        self.store = store
        self.max_group = max_group
        self._on_commit = on_commit
        self._queue: queue.Queue[object] = queue.Queue()
        self._closed = False
        self._gate = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="vigil-writer", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[Store], T]) -> Future[T]:
        """Queue ``fn(store)``; the future holds its result once committed."""
        future: Future[T] = Future()
        with self._gate:
            if self._closed:
                raise WriterClosedError("the writer is closed")
            WRITE_QUEUE.inc()  # before the put, so the writer never counts below zero
            self._queue.put((fn, future))
        return future

    def run(self, fn: Callable[[Store], T], timeout: float | None = None) -> T:
        """Submit ``fn`` and wait for its committed result."""
        return self.submit(fn).result(timeout)

    def insert_events(self, batch: pa.Table) -> int:
        """Insert a finalised batch through the writer; returns how many rows were new."""
        return int(self.run(lambda store: store.insert_events(batch)))

    def close(self) -> None:
        """Finish queued writes, then stop the thread."""
        with self._gate:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join()

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            group = [first]
            stop = False
            while len(group) < self.max_group:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                group.append(item)
            WRITE_QUEUE.dec(len(group))
            self._commit_group(group)  # type: ignore[arg-type]
            if stop:
                return

    def _commit_group(self, group: list[tuple[WriteFn, Future[Any]]]) -> None:
        started = time.perf_counter()
        try:
            results = self._transaction([fn for fn, _ in group])
        except Exception as exc:  # one of them failed: run each alone so only that one fails
            if len(group) == 1:
                self._fail(group[0][1], exc)
            else:
                for fn, future in group:
                    self._run_alone(fn, future)
            return
        finally:
            WRITE_LATENCY.observe(time.perf_counter() - started)
        self._committed()
        for (_, future), result in zip(group, results, strict=True):
            future.set_result(result)

    def _committed(self) -> None:
        """Tell the listener (the analytics cache) that committed data changed."""
        if self._on_commit is not None:
            self._on_commit()

    def _fail(self, future: Future[Any], exc: Exception) -> None:
        WRITE_FAILURES.inc()
        log.warning("write failed: %s", exc)
        future.set_exception(exc)

    def _run_alone(self, fn: WriteFn, future: Future[Any]) -> None:
        try:
            result = self._transaction([fn])[0]
        except Exception as exc:
            self._fail(future, exc)
        else:
            self._committed()
            future.set_result(result)

    def _transaction(self, fns: list[WriteFn]) -> list[Any]:
        """Run ``fns`` in one transaction, again when the store says the failure was transient
        (a deadlock between writers of different processes, say)."""
        for attempt in range(1, RETRY_ATTEMPTS + 1):
            try:
                with self.store.transaction():
                    return [fn(self.store) for fn in fns]
            except Exception as exc:
                if attempt == RETRY_ATTEMPTS or not self.store.is_retryable(exc):
                    raise
                WRITE_RETRIES.inc()
                log.info("write conflict, retrying (attempt %d): %s", attempt, exc)
                time.sleep(RETRY_PAUSE_SECONDS * attempt)
        raise AssertionError("unreachable")
