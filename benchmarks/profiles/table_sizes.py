"""Where a warehouse's bytes are: each table's blocks on disk and rows, largest first.

    python benchmarks/profiles/table_sizes.py WAREHOUSE [TOP]

A table's size is its distinct storage blocks (`pragma_storage_info`) times DuckDB's block
size: what writing it cost the file, compression included. Opened read-only, so it can run
on a warehouse a benchmark left behind.
"""

import sys

import duckdb


def table_sizes(path: str) -> list[tuple[float, str, int]]:
    conn = duckdb.connect(path, read_only=True)
    (block_size,) = conn.execute("select block_size from pragma_database_size()").fetchone()
    sizes = []
    for schema, table, rows in conn.execute(
        "select schema_name, table_name, estimated_size from duckdb_tables()"
    ).fetchall():
        (blocks,) = conn.execute(
            "select count(distinct block_id) from pragma_storage_info(?) where block_id >= 0",
            [f"{schema}.{table}"],
        ).fetchone()
        sizes.append((blocks * block_size / 2**20, f"{schema}.{table}", rows))
    return sorted(sizes, reverse=True)


if __name__ == "__main__":
    sizes = table_sizes(sys.argv[1])
    for mib, name, rows in sizes[: int(sys.argv[2]) if len(sys.argv) > 2 else 20]:
        print(f"{mib:9,.0f} MiB {rows:>12,} rows  {name}")
    print(f"{sum(s[0] for s in sizes):9,.0f} MiB in all")
