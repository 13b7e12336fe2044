"""BILLING_DUCKDB_THREADS: the number of DuckDB threads of the warehouse connections.

Unset, DuckDB uses one thread per core. Results never depend on it (every published order is
explicit); the setting exists so that this can be tested and so that a shared host can cap it.
"""

from __future__ import annotations

import os


def duckdb_threads() -> int | None:
    text = os.environ.get("BILLING_DUCKDB_THREADS", "").strip()
    if not text:
        return None
    threads = int(text)
    if threads < 1:
        raise ValueError(f"BILLING_DUCKDB_THREADS must be a positive integer, got {text!r}")
    return threads


def duckdb_connection_config() -> dict[str, int]:
    """Config for `duckdb.connect(config=...)` / `DuckDBResource(connection_config=...)`."""
    threads = duckdb_threads()
    return {} if threads is None else {"threads": threads}
