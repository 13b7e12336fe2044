"""Time `journal.post_entries` alone, phase by phase, on the facts of a real ledger chunk.

python benchmarks/profiles/post_entries.py dump <base.duckdb> <copy.duckdb> <cut_seq> <dir>
    Runs day 3's ledger step as `ledger_day3.py run` does and saves the facts each chunk
    posts (`dir/facts-N.parquet`).
python benchmarks/profiles/post_entries.py run <warehouse.duckdb> <dir> [REPEATS]
    Posts each saved frame with the warehouse's rate book (read only), printing CPU and wall
    per phase of `_post_batch` (the rate book is built once, outside the timings), and a
    hash of the lines so two checkouts on `PYTHONPATH` can be compared.
"""

import hashlib
import json
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from benchmarks.profiles import ledger_day3
from billing_pipeline.domain.rounding import RoundingRule
from billing_pipeline.warehouse import fx_postings, journal, ledger, ledger_delta
from billing_pipeline.warehouse.tables import use_utc

RULE = RoundingRule.HALF_EVEN


def dump(base: str, copy: str, cut: int, folder: str) -> None:
    Path(folder).mkdir(parents=True, exist_ok=True)
    original = ledger_delta.post_entries
    chunks = []

    def saving(facts, *args, **kwargs):
        facts.write_parquet(Path(folder) / f"facts-{len(chunks)}.parquet")
        chunks.append(facts.height)
        return original(facts, *args, **kwargs)

    ledger_delta.post_entries = saving
    print(json.dumps(ledger_day3.run(base, copy, cut), indent=1))
    print("facts per chunk:", chunks)


def run(warehouse: str, folder: str, repeats: int = 1) -> None:
    conn = duckdb.connect(warehouse, read_only=True)
    use_utc(conn)
    book, _ = ledger.rate_book(conn)
    conn.close()
    phases = defaultdict(lambda: [0.0, 0.0])

    def timed(module, name):
        function = getattr(module, name)

        def wrapper(*args, **kwargs):
            cpu, wall = time.process_time(), time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                phases[name][0] += time.process_time() - cpu
                phases[name][1] += time.perf_counter() - wall

        setattr(module, name, wrapper)

    timed(journal, "post_frame")
    for name in ("_quotes", "_functional_amounts", "_with_rounding_lines", "with_items"):
        timed(journal, name)
    timed(fx_postings, "spread_lines")
    digest = hashlib.sha256()
    total = [0.0, 0.0]
    for path in sorted(Path(folder).glob("facts-*.parquet")):
        facts = pl.read_parquet(path)
        for _ in range(repeats):
            cpu, wall = time.process_time(), time.perf_counter()
            lines, problems = journal.post_entries(facts, book, "USD", RULE)
            total[0] += time.process_time() - cpu
            total[1] += time.perf_counter() - wall
        ordered = lines.sort("fact_id", "line_no")
        digest.update(ordered.hash_rows().to_numpy().tobytes())
        digest.update(problems.sort("event_id", "reason").hash_rows().to_numpy().tobytes())
        print(path.name, facts.height, "facts ->", lines.height, "lines", problems.height)
    result = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "repeats": repeats,
        "post_entries (cpu, wall)": [round(v, 2) for v in total],
        "phases (cpu, wall)": {k: [round(v[0], 2), round(v[1], 2)] for k, v in phases.items()},
        "lines hash": digest.hexdigest()[:16],
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    if sys.argv[1] == "dump":
        dump(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        run(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 1)
