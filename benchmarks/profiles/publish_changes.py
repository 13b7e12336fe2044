"""Publish a warehouse's relations from a copy of an analytics file, and whole, alternately.

python benchmarks/profiles/publish_changes.py WAREHOUSE ANALYTICS [ROUNDS]

Each round copies ANALYTICS (the last published file, or an older one) to a scratch file and
times `publish_with_changes` from it (relation by relation: how it was written, rows deleted
and inserted, seconds), then `publish(full=True)` into another scratch file. The two files must
hold the same rows (count and a sum of row hashes per relation). Nothing is written to
WAREHOUSE or ANALYTICS; the scratch files are deleted.
"""

import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from benchmarks.profiles.timed_connection import TimedConnection
from billing_pipeline.reliability.duckdb_settings import duckdb_connection_config
from billing_pipeline.warehouse.publish import publish, publish_with_changes


def _fingerprints(path: Path) -> dict[str, tuple]:
    with duckdb.connect(str(path), read_only=True) as reader:
        relations = reader.execute("select schema_name, table_name from duckdb_tables()")
        return {
            f"{s}.{t}": reader.execute(
                f'select count(*), sum(hash(r)::hugeint) from "{s}"."{t}" r'
            ).fetchone()
            for s, t in relations.fetchall()
        }


def main(warehouse: str, analytics: str, rounds: int = 2) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="publish-", dir=Path(warehouse).parent))
    changed = scratch / "changed" / "analytics.duckdb"
    whole = scratch / "whole" / "analytics.duckdb"
    config = duckdb_connection_config()  # (read-write: a read-only one attaches read-only)
    try:
        for round_no in range(1, rounds + 1):
            changed.parent.mkdir(exist_ok=True)
            started = time.time()
            shutil.copyfile(analytics, changed)
            copy_s = time.time() - started
            with duckdb.connect(warehouse, config=config) as conn:
                timed = TimedConnection(conn)
                started = time.time()
                _, how = publish_with_changes(timed, changed)
                changes_s = time.time() - started
                started = time.time()
                publish(conn, whole, full=True)
                whole_s = time.time() - started
            print(
                f"round {round_no}: from the copy {changes_s:.2f} s (+{copy_s:.2f} s to copy "
                f"the old file here), whole {whole_s:.2f} s"
            )
            for name, change in sorted(how.items()):
                rows = f"-{change.deleted:>10,} +{change.inserted:>10,}"
                print(f"  {name:40} {change.mode:10} {rows}")
            top = timed.report(12).splitlines()
            print("\n".join(top[top.index("total s, runs, phase, statement:") :][:13]))
            assert _fingerprints(changed) == _fingerprints(whole), "the two files differ"
            print("  same rows in both files")
    finally:
        shutil.rmtree(scratch)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *(int(a) for a in sys.argv[3:4]))
