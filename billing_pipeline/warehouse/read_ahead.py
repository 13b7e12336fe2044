"""Read ahead: the next parts of a file are parsed in a thread while the caller stages this one.

Landing a large event log alternates two kinds of work that wait on different things: parsing
a batch of lines (polars, which releases the GIL) and validating and inserting the batch
before it (DuckDB, which releases it too, and the disk). Done one after the other, each core
idles while the other kind runs; with the parser one part ahead they overlap.

The parts still arrive in order, one at a time, and an error of the parser is raised where
it happened: after the parts before it, never instead of them. So the caller stages exactly
what it would have without this, and a parser failure quarantines the file as before.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

_END = object()
# How often a producer blocked on a full hand-off checks whether the consumer has gone.
_POLL_SECONDS = 0.05


class _Raised:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def read_ahead(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """The items of `items` in order, produced by a thread up to `depth` items ahead.

    An exception from `items` is raised here after every item before it was yielded. When
    the caller stops early (an error while staging, or closing this generator), the thread
    stops after the item it is producing and `items` is closed in it (its file handle too)."""
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if not _hand_over(handoff, item, stop):
                    return
            _hand_over(handoff, _END, stop)
        except BaseException as error:  # handed to the consumer, which raises it
            _hand_over(handoff, _Raised(error), stop)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = handoff.get()
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.error
            yield item
    finally:
        stop.set()
        worker.join()


def _hand_over(handoff: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put `item` once there is room; False if the consumer stopped first."""
    while not stop.is_set():
        try:
            handoff.put(item, timeout=_POLL_SECONDS)
            return True
        except queue.Full:
            continue
    return False
