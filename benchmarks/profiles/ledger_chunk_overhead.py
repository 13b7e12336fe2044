"""What a ledger chunk costs beyond its events: fold a few tiny chunks onto a large history.

python benchmarks/profiles/ledger_chunk_overhead.py <base.duckdb> <copy.duckdb> <cut_seq> \
    [events_per_chunk=2000] [chunks=5]

`base` is a warehouse whose ledger is built up to `cut_seq` (`ledger_day3.py setup`). The copy
folds `chunks` chunks of `events_per_chunk` new events each (`ledger._fold_chunk`, as
`rebuild_ledger` does when catching up), so almost all of the time is what every chunk pays
whatever its size: scoping, lookups and rewrites that read the stored history. A day at 1M
payments folds ~11 chunks onto 10M+ stored events, so this cost is paid per chunk at that
history size. Prints wall and CPU seconds per chunk.
"""

import shutil
import sys
import time
from datetime import UTC, datetime

import duckdb
from ledger_day3 import _keys_at

from billing_pipeline.domain.rounding import RoundingRule
from billing_pipeline.warehouse import ledger, ledger_keys
from billing_pipeline.warehouse import ledger_watermark as watermark
from billing_pipeline.warehouse.tables import use_utc

RULE = RoundingRule.HALF_EVEN


def run(base: str, copy: str, cut: int, size: int = 2000, chunks: int = 5) -> None:
    shutil.copy(base, copy)
    conn = duckdb.connect(copy)
    use_utc(conn)
    _keys_at(conn, cut)
    ledger_keys.refresh(conn)  # day 3's keys copied up front: the chunks measure the rest
    book, _ = ledger.rate_book(conn)
    stamp = (watermark.settings_fingerprint("USD", RULE), watermark.rates_fingerprint(conn))
    (stored,) = conn.execute("select count(*) from ledger_store.journal_lines").fetchone()
    wall, cpu = time.perf_counter(), time.process_time()
    since = cut
    for _ in range(chunks):
        upto = since + size
        now = datetime.now(UTC)
        ledger._fold_chunk(conn, book, "USD", RULE, "overhead", now, since, upto, stamp)
        since = upto
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"{chunks} chunks of {size} events onto {cut} events / {stored} journal lines: "
        f"{wall / chunks:.2f} s wall, {cpu / chunks:.2f} s CPU a chunk"
    )
    conn.close()


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2], *(int(a) for a in sys.argv[3:6]))
