"""CSV files for people who open them in a spreadsheet: no cell is ever run as a formula.

A text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read as a
formula by Excel, LibreOffice and Google Sheets (`=CMD|' /C calc'!A0`, `+SUM(...)`): such a
cell is written with a leading single quote, which spreadsheets display as text. Numbers
(Python ints, Decimals) are written as they are, so a negative amount stays a number.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralize_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write the rows (cells neutralized) to a temp file and rename it into place; row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    count = 0
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([neutralize_cell(h) for h in header])
        for row in rows:
            writer.writerow([neutralize_cell(cell) for cell in row])
            count += 1
    os.replace(tmp, path)
    return count
