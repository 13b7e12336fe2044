"""The raw-read floor: DuckDB reads one business date's input files once, with explicit types.

CSVs through read_csv, the event log through read_json (both with declared column types, so
no sniffing), bank statements as a count of lines (their formats have no DuckDB reader). The
time is what merely touching the bytes costs; the pipeline's end-to-end time is reported as a
multiple of it.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

EVENT_COLUMNS = {
    "event_id": "VARCHAR", "type": "VARCHAR", "occurred_at": "TIMESTAMPTZ",
    "payment_id": "VARCHAR", "invoice_id": "VARCHAR", "customer_id": "VARCHAR",
    "amount_minor": "BIGINT", "currency": "VARCHAR", "processor": "VARCHAR",
    "processor_ref": "VARCHAR", "due_date": "DATE", "invoice_number": "VARCHAR",
}  # fmt: skip
STRIPE_LINE_TYPES = {
    "created_utc": "TIMESTAMP", "available_on_utc": "TIMESTAMP", "gross": "DECIMAL(18,2)",
    "fee": "DECIMAL(18,2)", "net": "DECIMAL(18,2)", "customer_facing_amount": "DECIMAL(18,3)",
}  # fmt: skip
ADYEN_TYPES = {
    "Creation Date": "TIMESTAMP", "Gross Debit (GC)": "DECIMAL(18,3)",
    "Gross Credit (GC)": "DECIMAL(18,3)", "Net Debit (NC)": "DECIMAL(18,3)",
    "Net Credit (NC)": "DECIMAL(18,3)", "Commission (NC)": "DECIMAL(18,3)",
}  # fmt: skip
# Malformed rows are injected on purpose: the floor skips them instead of failing.
_CSV_OPTIONS = (
    "header = true, ignore_errors = true, auto_detect = false, delim = ',', quote = '\"', "
    "escape = '\"', timestampformat = '%Y-%m-%d %H:%M:%S'"
)


@dataclass(frozen=True)
class FloorResult:
    seconds: float
    rows: dict[str, int]
    bytes_read: int


def _csv_columns(path: Path, types: dict[str, str]) -> str:
    """A read_csv `columns` struct: every header column VARCHAR unless typed explicitly."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        names = next(csv.reader(fh))
    pairs = ", ".join(f"'{n}': '{types.get(n, 'VARCHAR')}'" for n in names)
    return "{" + pairs + "}"


def read_floor(inbox: Path, day: date, threads: int | None = None) -> FloorResult:
    """Read every file of `day` once; return the seconds and the rows seen per source."""
    conn = duckdb.connect()
    conn.execute("set enable_progress_bar = false")
    if threads:
        conn.execute(f"set threads = {threads}")
    rows: dict[str, int] = {}
    total_bytes = 0
    files = sorted((inbox).glob(f"*/{day.isoformat()}/*"))
    begin = time.perf_counter()
    for path in files:
        source = path.parent.parent.name
        total_bytes += path.stat().st_size
        if source == "events":
            columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in EVENT_COLUMNS.items()) + "}"
            sql = (
                f"select count(*), sum(amount_minor) from read_json('{path}', "
                f"format = 'newline_delimited', columns = {columns}, ignore_errors = true)"
            )
        elif source in ("stripe", "adyen", "rates"):
            types = {"stripe": STRIPE_LINE_TYPES, "adyen": ADYEN_TYPES}.get(source, {})
            columns = _csv_columns(path, types)
            sql = f"select count(*), 0 from read_csv('{path}', {_CSV_OPTIONS}, columns = {columns})"
        else:
            sql = (
                f"select count(*), 0 from read_csv('{path}', header = false, columns = "
                "{'line': 'VARCHAR'}, delim = '\\0', quote = '', escape = '', auto_detect = false,"
                " ignore_errors = true)"
            )
        count, _ = conn.execute(sql).fetchone()
        rows[source] = rows.get(source, 0) + count
    seconds = time.perf_counter() - begin
    conn.close()
    return FloorResult(seconds, rows, total_bytes)
