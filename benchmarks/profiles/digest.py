"""An order-free digest of a relation: its row count and the sum of its rows' hashes.

Two checkouts that write the same rows give the same digest, whatever order they wrote them
in; the profiles print it so that a faster version can be shown to write what the old one did.
"""

import duckdb


def digest(conn: duckdb.DuckDBPyConnection, relation: str, params=None) -> tuple[int, int]:
    """(rows, sum of row hashes) of the rows `relation` (a query) returns."""
    rows, total = conn.execute(
        f"select count(*), coalesce(sum(hash(t)::hugeint), 0) from ({relation}) t", params
    ).fetchone()
    return int(rows), int(total)
