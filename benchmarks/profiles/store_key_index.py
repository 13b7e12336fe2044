"""What an index on the event store's keys costs an append: the same rows with and without it.

python benchmarks/profiles/store_key_index.py STORED APPENDED MODE DB
    MODE: `unique` (seq primary key + unique idempotency_key, the store before session 8),
    `pk` (seq primary key only, the store now) or `plain` (no constraint).
Builds a table of STORED rows shaped like `store.events` (a 30-character key, a 300-byte
payload, a hex hash), checkpoints it, then appends APPENDED more in one transaction and
prints the insert and commit seconds and the peak RSS.
"""

import resource
import sys
import time
from pathlib import Path

import duckdb

COLUMNS = {
    "unique": "seq bigint primary key, idempotency_key varchar not null unique",
    "pk": "seq bigint primary key, idempotency_key varchar not null",
    "plain": "seq bigint not null, idempotency_key varchar not null",
}


def rows(first: int, last: int) -> str:
    return (
        "select i, 'evt_' || md5(i::varchar)[:20] || ':' || i, repeat('x', 300) || i, "
        f"sha256(i::varchar) from range({first}, {last}) t(i)"
    )


def run(stored: int, appended: int, mode: str, db: str) -> None:
    for path in (Path(db), Path(db + ".wal")):
        path.unlink(missing_ok=True)
    conn = duckdb.connect(db)
    conn.execute(
        f"create table events ({COLUMNS[mode]}, payload varchar not null, "
        "payload_hash varchar not null)"
    )
    conn.execute(f"insert into events {rows(0, stored)}")
    conn.execute("checkpoint")
    begin = time.perf_counter()
    conn.execute("begin")
    conn.execute(f"insert into events {rows(stored, stored + appended)}")
    inserted = time.perf_counter() - begin
    conn.execute("commit")
    committed = time.perf_counter() - begin
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{mode}: insert {inserted:.1f} s, with commit {committed:.1f} s, peak {rss:.0f} MiB")


if __name__ == "__main__":
    run(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4])
