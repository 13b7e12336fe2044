"""An analyst in another process: opens the published file read-only again and again.

Usage: python reader_loop.py ANALYTICS_PATH STOP_FILE RESULT_JSON. Until STOP_FILE exists,
each round opens the file read-only, counts the rows of every relation and checks that the
ledger's trial balance balances; any exception (a lock conflict, a missing relation of a
half-written file) is recorded. Writes {"rounds": n, "errors": [...], "relations": [...]}.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import duckdb


def one_round(path: Path) -> list[str]:
    with duckdb.connect(str(path), read_only=True) as conn:
        relations = [
            f"{schema}.{table}"
            for schema, table in conn.execute(
                "select table_schema, table_name from information_schema.tables order by 1, 2"
            ).fetchall()
        ]
        for relation in relations:
            conn.execute(f"select count(*) from {relation}").fetchone()
        unbalanced = conn.execute(
            "select count(*) from ledger.trial_balance "
            "where total_debit_minor != total_credit_minor"
        ).fetchone()[0]
        if unbalanced:
            raise AssertionError(f"{unbalanced} unbalanced trial balance rows")
        return relations


def main(path: Path, stop: Path, result: Path) -> None:
    rounds, errors, seen = 0, [], set()
    while not stop.exists():
        try:
            seen.add(tuple(one_round(path)))
            rounds += 1
        except Exception as error:  # every failure is the finding, not a crash
            errors.append(repr(error))
        time.sleep(0.02)
    result.write_text(json.dumps({"rounds": rounds, "errors": errors, "relations": sorted(seen)}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
