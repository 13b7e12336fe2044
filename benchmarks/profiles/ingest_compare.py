"""Every raw.* and ingest.* table of two DuckDB files: A except all B, and B except all A.

python benchmarks/profiles/ingest_compare.py A.duckdb B.duckdb   # prints IDENTICAL or DIFFERENT
"""

import sys

import duckdb

conn = duckdb.connect()
conn.execute(f"attach '{sys.argv[1]}' as a (read_only)")
conn.execute(f"attach '{sys.argv[2]}' as b (read_only)")
tables = [
    f"{schema}.{table}"
    for schema, table in conn.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = 'a' "
        "and schema_name in ('raw', 'ingest') order by 1, 2"
    ).fetchall()
]
differences = 0
for table in tables:
    count_a = conn.execute(f"select count(*) from a.{table}").fetchone()[0]
    count_b = conn.execute(f"select count(*) from b.{table}").fetchone()[0]
    a_not_b = conn.execute(
        f"select count(*) from (select * from a.{table} except all select * from b.{table})"
    ).fetchone()[0]
    b_not_a = conn.execute(
        f"select count(*) from (select * from b.{table} except all select * from a.{table})"
    ).fetchone()[0]
    print(f"{table:40s} rows {count_a:>9} vs {count_b:>9}  a-b {a_not_b}  b-a {b_not_a}")
    differences += a_not_b + b_not_a + (count_a != count_b)
print("IDENTICAL" if not differences else "DIFFERENT")
