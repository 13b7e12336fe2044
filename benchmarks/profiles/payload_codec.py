"""What the event store's payload codec costs to write and to read back.

    python benchmarks/profiles/payload_codec.py WAREHOUSE [FROM_SEQ [BATCHES]]

Copies BATCHES (default 4) batches of 1,000,000 stored events, from the one after FROM_SEQ
(default 0), out of a warehouse opened read-only into a fresh `store.events` (the pipeline's
DDL) in a temporary folder, once per codec of the `payload` column: DuckDB's own pick, zstd
(`tables.PAYLOAD_TYPE`, session 29), and zstd on the three hex hashes too. Prints the seconds
of each batch's insert, of the checkpoint, of hashing every payload and of parsing two fields
out of each (what the chain check and the key copies do), and the file's size.
"""

import os
import re
import sys
import tempfile
import time

import duckdb

from billing_pipeline.warehouse.event_store import STORE_DDL
from billing_pipeline.warehouse.tables import PAYLOAD_TYPE

_EVENTS_DDL = STORE_DDL.split("create table if not exists store.event_receipts")[0]
_PAYLOAD = f"payload {PAYLOAD_TYPE} not null"
_HASHES = r"(payload_hash|prev_hash|chain_hash) varchar not null"
VARIANTS = {
    "duckdb's pick": _EVENTS_DDL.replace(_PAYLOAD, "payload varchar not null"),
    "zstd payload": _EVENTS_DDL,
    "zstd payload and hashes": re.sub(_HASHES, rf"\1 {PAYLOAD_TYPE} not null", _EVENTS_DDL),
}


def _timed(conn: duckdb.DuckDBPyConnection, sql: str) -> float:
    started = time.perf_counter()
    conn.execute(sql).fetchall()
    return round(time.perf_counter() - started, 2)


def measure(warehouse: str, ddl: str, first: int, batches: int) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "scratch.duckdb")
        conn = duckdb.connect(path)
        conn.execute(ddl)
        conn.execute("attach ? as source (read_only)", [warehouse])
        inserts = []
        for low in range(first, first + batches * 1_000_000, 1_000_000):
            inserts.append(
                _timed(
                    conn,
                    "insert into store.events select * from source.store.events "
                    f"where seq > {low} and seq <= {low + 1_000_000}",
                )
            )
        result = {
            "inserts": inserts,
            "checkpoint": _timed(conn, "checkpoint"),
            "sha256": _timed(conn, "select count(distinct sha256(payload)) from store.events"),
            "parse": _timed(
                conn,
                "select count(json_extract_string(payload, ['payment_id', 'amount_minor'])) "
                "from store.events",
            ),
        }
        conn.close()
        result["mib"] = os.path.getsize(path) >> 20
    return result


if __name__ == "__main__":
    first = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    batches = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    for name, ddl in VARIANTS.items():
        print(name, measure(sys.argv[1], ddl, first, batches), flush=True)
