"""Land the files of several sources for one business date side by side.

Each source lands in its own thread and DuckDB connection (`landing.land_into_schema`). Parsing
and staging a file is polars and DuckDB work, which runs outside the GIL, and one landing keeps
about one core busy: on a 1M-payment day the event log takes ~28 s and the processor and bank
files ~23 s together, one after the other on a 2-core machine (benchmarks/RESULTS.md, session
28). The largest partition starts first, so that it is not the one left running alone; the
event log's batches are parsed two at a time (`events_jsonl.parse_blocks`) for when it is.

Sources write disjoint rows: their own raw tables, and their own rows of the file registry,
the quarantine and the partition marks, so their transactions never conflict. The one thing a
landing reads from another source is whether the same bytes already landed there (such a file
is a duplicate, `landing._landed_elsewhere`): which of two sources gets a file delivered to
both would depend on timing, so when two sources' files for the date have the same bytes the
sources land one after the other, in `SOURCES` order.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from billing_pipeline.warehouse.audits import nothing_lost_violations
from billing_pipeline.warehouse.landing import (
    SOURCES,
    LandingReport,
    digest_file,
    land_into_schema,
    partition_files,
)
from billing_pipeline.warehouse.tables import ensure_schema


@dataclass
class SourceLanding:
    """One source's landing: its report and its "nothing lost" violations, or what failed."""

    source: str
    report: LandingReport | None = None
    violations: list[dict] = field(default_factory=list)
    error: Exception | None = None


def land_sources(
    conn: duckdb.DuckDBPyConnection,
    inbox: Path,
    sources: list[str],
    partition_date: date,
    run_id: str,
    now: datetime,
    workers: int,
) -> list[SourceLanding]:
    """Land `sources` for `partition_date`, up to `workers` at a time; one `SourceLanding` per
    source, in the order given. A source that fails does not stop the others: its error is in
    its outcome for the caller to raise."""
    unknown = sorted(set(sources) - set(SOURCES))
    if unknown:
        raise ValueError(f"unknown sources {unknown}; expected some of {SOURCES}")
    ensure_schema(conn)  # once, here: concurrent `create ... if not exists` can conflict
    sized = {
        source: [
            (path, path.stat().st_size) for path in partition_files(inbox, source, partition_date)
        ]
        for source in sources
    }
    args = (inbox, partition_date, run_id, now)
    if workers < 2 or len(sources) < 2 or _shared_bytes(sized):
        ordered = sorted(sources, key=SOURCES.index)
        outcomes = {source: _land_one(conn, source, *args) for source in ordered}
        return [outcomes[source] for source in sources]
    total = {source: sum(size for _, size in files) for source, files in sized.items()}
    largest_first = sorted(sources, key=lambda source: (-total[source], SOURCES.index(source)))
    with ThreadPoolExecutor(max_workers=min(workers, len(sources))) as pool:
        futures = {
            source: pool.submit(_land_one, conn.cursor(), source, *args, owned=True)
            for source in largest_first
        }
        return [futures[source].result() for source in sources]


def _land_one(
    conn: duckdb.DuckDBPyConnection,
    source: str,
    inbox: Path,
    partition_date: date,
    run_id: str,
    now: datetime,
    owned: bool = False,
) -> SourceLanding:
    """Land one source and count what it staged; `owned`: the connection is this landing's
    own (a cursor), closed when it is done."""
    outcome = SourceLanding(source)
    try:
        outcome.report = land_into_schema(conn, inbox, source, partition_date, run_id, now)
        outcome.violations = nothing_lost_violations(conn, source, partition_date)
    except Exception as error:  # reported with the source; the other sources go on
        outcome.error = error
    finally:
        if owned:
            conn.close()
    return outcome


def _shared_bytes(sized: dict[str, list[tuple[Path, int]]]) -> bool:
    """Do files of two different sources (source -> [(path, size)]) have the same bytes? Only
    files of equal size are read."""
    by_size: dict[int, list[tuple[str, Path]]] = defaultdict(list)
    for source, files in sized.items():
        for path, size in files:
            by_size[size].append((source, path))
    for same_size in by_size.values():
        if len({source for source, _ in same_size}) < 2:
            continue
        owners: dict[str, set[str]] = defaultdict(set)
        for source, path in same_size:
            owners[digest_file(path)[0]].add(source)
        if any(len(found) > 1 for found in owners.values()):
            return True
    return False
