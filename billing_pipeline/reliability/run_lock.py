"""One writing run per warehouse: an exclusive, non-blocking lock on <warehouse>/.run.lock.

DuckDB lets one process write a file, so a second run started beside a first one would fail
somewhere in the middle with a lock error from the database. The run lock makes it fail at
the start instead, with a message naming the run that holds the warehouse. `flock` is held by
the open file description: the kernel releases it when the holder exits, also when it is
killed (SIGKILL, OOM), so a crashed run never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

LOCK_FILE = ".run.lock"


class WarehouseBusy(RuntimeError):
    """Another run holds the warehouse; nothing was started."""


@contextmanager
def hold_run_lock(warehouse_dir: Path, what: str = "run") -> Iterator[Path]:
    """Hold the warehouse's run lock for the block, or raise `WarehouseBusy` at once."""
    warehouse_dir.mkdir(parents=True, exist_ok=True)
    path = warehouse_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or "unknown"
            raise WarehouseBusy(
                f"another run is writing the warehouse {warehouse_dir} ({holder}); "
                "nothing was started: wait for it to finish, then run again"
            ) from None
        os.ftruncate(fd, 0)
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        os.pwrite(fd, f"pid {os.getpid()}, {what} started {stamp}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # closing the descriptor releases the lock
