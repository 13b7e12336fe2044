"""The DuckDB settings of the warehouse connections (the pipeline's and dbt's profile):

- BILLING_DUCKDB_THREADS: DuckDB threads. Unset, DuckDB uses one thread per core. Results
  never depend on it (every published order is explicit); the setting exists so that this
  can be tested and so that a shared host can cap it.
- BILLING_DUCKDB_MEMORY_LIMIT: how much memory DuckDB may hold before it spills to disk, as
  DuckDB reads it ("2GB", "50%"); default half the machine. The event store and
  reconciliation are set-based SQL whose working sets grow with the day and the history:
  this caps them, at some cost in speed (benchmarks/RESULTS.md). DuckDB's own default, 80%,
  leaves too little for the ledger's folds, which live in the same process: a 1M-payment
  day was killed for memory with it.
"""

from __future__ import annotations

import os

DEFAULT_MEMORY_LIMIT = "50%"


def duckdb_threads() -> int | None:
    text = os.environ.get("BILLING_DUCKDB_THREADS", "").strip()
    if not text:
        return None
    threads = int(text)
    if threads < 1:
        raise ValueError(f"BILLING_DUCKDB_THREADS must be a positive integer, got {text!r}")
    return threads


def duckdb_memory_limit() -> str:
    return os.environ.get("BILLING_DUCKDB_MEMORY_LIMIT", "").strip() or DEFAULT_MEMORY_LIMIT


def duckdb_connection_config() -> dict[str, int | str]:
    """Config for `duckdb.connect(config=...)` / `DuckDBResource(connection_config=...)`."""
    threads = duckdb_threads()
    limit = {"memory_limit": duckdb_memory_limit()}
    return limit if threads is None else {"threads": threads, **limit}
