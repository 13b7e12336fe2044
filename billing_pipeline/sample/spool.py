"""Facts decided today but due on a later day wait in per-day, per-channel text files.

This is what keeps memory flat whatever the volume: a payment's whole future (capture,
refund, settlement, bank credit...) is decided when it is created and written here, and each
day's output files are produced by streaming that day's spool. Facts dated after the world's
last day are dropped: they would happen after the files were cut.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import TextIO


class Spool:
    def __init__(self, parent: Path, end: date) -> None:
        parent.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix=".spool-", dir=parent))
        self.end = end
        self._open: dict[tuple[date, str], TextIO] = {}

    def _path(self, d: date, channel: str) -> Path:
        return self.root / d.isoformat() / f"{channel}.tsv"

    def put(self, d: date, channel: str, line: str) -> bool:
        """Append one fact (a line without newline) for day `d`; False if after the world ends."""
        if d > self.end:
            return False
        handle = self._open.get((d, channel))
        if handle is None:
            path = self._path(d, channel)
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = path.open("a", encoding="utf-8", newline="\n", buffering=1 << 18)
            self._open[(d, channel)] = handle
        handle.write(line)
        handle.write("\n")
        return True

    def channels(self, d: date, prefix: str) -> list[str]:
        """Channels with facts for day `d` whose name starts with prefix, sorted."""
        for (day, channel), handle in list(self._open.items()):
            if day == d and channel.startswith(prefix):
                handle.flush()
        folder = self.root / d.isoformat()
        if not folder.exists():
            return []
        return sorted(p.stem for p in folder.glob(f"{prefix}*.tsv"))

    def read(self, d: date, channel: str) -> Iterator[str]:
        """The facts of a channel in the order they were put (may be read several times)."""
        handle = self._open.pop((d, channel), None)
        if handle is not None:
            handle.close()
        path = self._path(d, channel)
        if not path.exists():
            return
        with path.open(encoding="utf-8", newline="\n") as f:
            for line in f:
                yield line.rstrip("\n")

    def discard_day(self, d: date) -> None:
        for key in [k for k in self._open if k[0] == d]:
            self._open.pop(key).close()
        shutil.rmtree(self.root / d.isoformat(), ignore_errors=True)

    def close(self) -> None:
        for handle in self._open.values():
            handle.close()
        self._open.clear()
        shutil.rmtree(self.root, ignore_errors=True)
