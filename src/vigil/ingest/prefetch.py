"""Run an iterator in a background thread, a bounded number of items ahead."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


def prefetch(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Yield the items of ``items`` while the next ones are produced in a thread.

    An exception in the producer is re-raised in the consumer. If the consumer stops early,
    the producer is told to stop at its next item.
    """
    channel: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                channel.put(item)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            channel.put(_Failure(exc))
            return
        channel.put(_DONE)

    worker = threading.Thread(target=produce, name="vigil-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = channel.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while worker.is_alive():
            try:
                channel.get(timeout=0.05)
            except queue.Empty:
                continue
        worker.join()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error
