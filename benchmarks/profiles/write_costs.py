"""What writing a table's rows costs, column by column, and how much of it is compression.

    python benchmarks/profiles/write_costs.py WAREHOUSE TABLE [ROWS]

Copies the first ROWS rows (default 2,000,000) of TABLE (`schema.table`) from a warehouse,
opened read-only, into a fresh scratch file in a temporary folder (deleted after), once for
the whole row and once for each column, and checkpoints each copy so its bytes reach the file.
Each copy is made twice: with DuckDB's own choice of compression and with string compression
left out (`disabled_compression_methods = 'dict_fsst'`: in this DuckDB every string column
is otherwise DICT_FSST). Prints wall seconds and the scratch file's size for both, so a
column's price in time can be set against its price in bytes.

The rows are read once into memory first, so the figures are the write alone.
"""

import os
import sys
import tempfile
import time

import duckdb

_RAW = "set disabled_compression_methods = 'dict_fsst'"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _copy(conn: duckdb.DuckDBPyConnection, columns: str, raw: bool) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "copy.duckdb")
        conn.execute("attach ? as scratch", [path])
        conn.execute(_RAW if raw else "reset disabled_compression_methods")
        started = time.perf_counter()
        # `columns` are the table's own names (duckdb_columns), quoted.
        conn.execute(f"create table scratch.copy as select {columns} from rows")
        conn.execute("checkpoint scratch")
        seconds = time.perf_counter() - started
        conn.execute("detach scratch")
        return seconds, os.path.getsize(path)


def write_costs(warehouse: str, table: str, rows: int) -> list[tuple[str, float, int, float, int]]:
    """(columns, seconds, bytes, seconds without string compression, bytes without it)."""
    conn = duckdb.connect()
    conn.execute("attach ? as warehouse (read_only)", [warehouse])
    schema, name = table.split(".")
    names = [
        row[0]
        for row in conn.execute(
            "select column_name from duckdb_columns() where database_name = 'warehouse' "
            "and schema_name = ? and table_name = ? order by column_index",
            [schema, name],
        ).fetchall()
    ]
    if not names:
        raise SystemExit(f"no table {table} in {warehouse}")
    # The table exists (its columns were found), and its name is quoted like any identifier.
    conn.execute(
        f"create temp table rows as from warehouse.{_quote(schema)}.{_quote(name)} limit ?", [rows]
    )
    quoted = [_quote(column) for column in names]
    results = []
    for label, columns in [("(whole row)", ", ".join(quoted)), *zip(names, quoted, strict=True)]:
        auto = _copy(conn, columns, raw=False)
        raw = _copy(conn, columns, raw=True)
        results.append((label, auto[0], auto[1], raw[0], raw[1]))
    return results


if __name__ == "__main__":
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 2_000_000
    print(f"{sys.argv[2]}, {count:,} rows: s and MiB, DuckDB's choice / no string compression")
    for label, seconds, size, raw_seconds, raw_size in write_costs(sys.argv[1], sys.argv[2], count):
        print(
            f"{label:24s} {seconds:6.2f} s {size / 2**20:7.0f} MiB"
            f"   {raw_seconds:6.2f} s {raw_size / 2**20:7.0f} MiB"
        )
