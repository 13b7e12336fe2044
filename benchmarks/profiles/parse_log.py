"""Parse an event log (no DuckDB, no validation) with N batches side by side; print wall, CPU.

python benchmarks/profiles/parse_log.py LOG WORKERS

What `events_jsonl.PARSE_WORKERS` was chosen from (benchmarks/RESULTS.md, session 43): run
1, 2 and 3 alternately on a large day's log.
"""

import sys
import time
from pathlib import Path

from billing_pipeline.formats import events_jsonl


def main(log: Path, workers: int) -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    rows = rejected = 0
    for part in events_jsonl.parse_path(log, workers=workers):
        rows += part.frames["billing_events"].height
        rejected += len(part.rejected)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"workers {workers} wall {wall:.2f} s cpu {cpu:.2f} s rows {rows} rejected {rejected}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
