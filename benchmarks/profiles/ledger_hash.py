"""Order-free hashes of a warehouse's ledger tables: compare two checkouts' outputs.

    python benchmarks/profiles/ledger_hash.py <warehouse.duckdb>

Prints, per ledger table, its row count and the sum of every row's hash (no column that
says when or by which run a row was written), and the same for the quarantine index. Run it
on the copy `ledger_day3.py run` leaves, once per checkout: equal lines mean the same rows.
"""

import sys

import duckdb

from benchmarks.profiles.digest import digest

TABLES = ("journal_lines", "payment_states", "payment_history", "invoice_states",
          "invoice_history", "quarantined_events")  # fmt: skip
_WRITTEN = {"run_id", "posted_at", "updated_at"}


def table_hashes(conn: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int]]:
    hashes = {}
    for table in TABLES:
        columns = [
            name
            for (name,) in conn.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'ledger_store' and table_name = ? order by ordinal_position",
                [table],
            ).fetchall()
            if name not in _WRITTEN
        ]
        if columns:
            hashes[table] = digest(conn, f"select {', '.join(columns)} from ledger_store.{table}")
    return hashes


if __name__ == "__main__":
    for table, (rows, digest) in table_hashes(duckdb.connect(sys.argv[1], read_only=True)).items():
        print(f"{table:20} {rows:>12,} {digest}")
