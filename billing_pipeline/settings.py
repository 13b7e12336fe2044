"""Where things live. One setting per concern, read from the environment with repo defaults.

The DuckDB path that Dagster's `DuckDBResource` opens and the path in dbt's profile both come
from `BILLING_WAREHOUSE`, so the two can never point at different files.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"

WAREHOUSE_FILE = "billing.duckdb"
ANALYTICS_FILE = "analytics.duckdb"


def inbox_dir() -> Path:
    return Path(os.environ.get("BILLING_INBOX", REPO_ROOT / "data" / "inbox")).resolve()


def warehouse_dir() -> Path:
    return Path(os.environ.get("BILLING_WAREHOUSE", REPO_ROOT / "data" / "warehouse")).resolve()


def warehouse_path() -> Path:
    return warehouse_dir() / WAREHOUSE_FILE


def analytics_path() -> Path:
    return warehouse_dir() / ANALYTICS_FILE


def business_timezone() -> str:
    """The zone in which a business date is computed: explicit, never the process's TZ."""
    return os.environ.get("BILLING_TIMEZONE", "UTC")


def functional_currency() -> str:
    return os.environ.get("BILLING_FUNCTIONAL_CURRENCY", "USD")


def partitions_start() -> str:
    return os.environ.get("BILLING_PARTITIONS_START", "2025-01-01")


def ingest_workers() -> int:
    """How many sources land at once (BILLING_INGEST_WORKERS; `warehouse.land_sources`).

    Unset, one per core. Each landing keeps about one core busy and holds its own parse in
    memory: on a 1M-payment day the event log peaked at 1,987 MiB and the Stripe files at
    1,583 MiB, landed alone (benchmarks/RESULTS.md, session 28). 1 lands them one by one."""
    return _positive_int("BILLING_INGEST_WORKERS") or os.cpu_count() or 1


def dbt_threads() -> int:
    """How many nodes dbt builds at once (BILLING_DBT_THREADS, read by
    `dbt_project/profiles.yml`; default 1). Checked before dbt starts: dbt itself turns `0`
    into Python's "max_workers must be greater than 0"."""
    return _positive_int("BILLING_DBT_THREADS") or 1


def _positive_int(name: str) -> int | None:
    """The variable's value, None when unset or blank; anything but a positive integer fails
    naming the variable."""
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {text!r}")
    return value


LEDGER_KEYS_EXTRACTION_ENV = "BILLING_LEDGER_KEYS_EXTRACTION"


def export_for_subprocesses() -> None:
    """Pin the resolved paths in the environment so dbt subprocesses see the same files, and
    name the ledger's key copies this code makes: a dbt model reads the copies only when they
    were made by it (`fx.exposure_by_settlement`), else the payloads."""
    # (imported here: the settings module itself stays free of the warehouse's imports)
    from billing_pipeline.warehouse.ledger_keys import EXTRACTION

    os.environ["BILLING_INBOX"] = str(inbox_dir())
    os.environ["BILLING_WAREHOUSE"] = str(warehouse_dir())
    os.environ.setdefault("BILLING_DUCKDB_THREADS", str(os.cpu_count() or 1))
    os.environ[LEDGER_KEYS_EXTRACTION_ENV] = EXTRACTION


# What a chunk costs the ledger's Python side per new event, measured: a 30-day backfill whose
# last date folded 1.7M events peaked 1,455 MiB higher with 1.5M-event chunks than with
# 500k (benchmarks/RESULTS.md, session 8); 2.1M-event chunks peaked ~700 MiB above 1.5M ones
# (session 24). The default chunk keeps that under an eighth of the machine, between these
# bounds.
CHUNK_BYTES_PER_EVENT = 1_500
CHUNK_BOUNDS = (250_000, 3_000_000)


def ledger_chunk_events() -> int:
    """How many new events the ledger folds per transaction (BILLING_LEDGER_CHUNK_EVENTS).

    A run with more new events than this (a first build, a rebuild, a backfill's last date)
    catches up in chunks, each as if the ledger had run when the store ended there: memory
    stays bounded by the chunk instead of growing with the history. Each chunk also pays a
    few seconds of lookups into the history whatever its size: on a 1M-payment day (5.2M
    events) 1.5M-event chunks folded in 162 s where 500k-event ones took 201 s, at a peak of
    11,700 MiB against 11,490 (DuckDB at its cap both times), and rebuilding a 30-day
    history (18.6M events) took 317 s in 2.1M-event chunks against 342 s in 1.5M ones, and
    the 10M-payment day's (30.5M events, DuckDB capped at 1.5 GB) 388 s in 1.1M-event chunks
    against 445 s in 750k ones, at a peak of 3,246 MiB against 2,851. Unset,
    the chunk is as large as an eighth of the machine's memory allows (2.1M events on 24 GiB,
    3M from 34 GiB up)."""
    return _positive_int("BILLING_LEDGER_CHUNK_EVENTS") or default_chunk_events(
        _machine_memory_bytes()
    )


def default_chunk_events(memory_bytes: int) -> int:
    low, high = CHUNK_BOUNDS
    return max(low, min(high, memory_bytes // 8 // CHUNK_BYTES_PER_EVENT))


def _machine_memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def rounding_rule() -> str:
    """The one named rounding rule for conversions (half_even unless configured)."""
    return os.environ.get("BILLING_ROUNDING", "half_even")


def recon_rules_path() -> Path:
    return Path(os.environ.get("BILLING_RECON_RULES", REPO_ROOT / "config" / "recon_rules.yml"))


def resolutions_dir() -> Path:
    """Controllers' resolution files (CSV or YAML), applied by every run and by `resolve`."""
    return Path(os.environ.get("BILLING_RESOLUTIONS", REPO_ROOT / "data" / "resolutions"))
