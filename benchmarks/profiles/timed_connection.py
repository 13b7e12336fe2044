"""A DuckDB connection that times every statement it runs, for the statement-level profiles
(`recon_step.py`, `ledger_day3.py run ... TOP`, `store_append.py ... TOP`).

`execute` is timed when it returns (DuckDB has run the statement by then); `sql` returns a
relation that runs only when read, so its readers (`pl`, `fetchall`, `to_arrow_table`, ...)
are timed instead. Each timing carries the phase the caller set and the statement's head.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict

import duckdb

_READERS = ("pl", "df", "fetchall", "fetchone", "arrow", "to_arrow_table", "fetch_arrow_table")


def _head(sql: str) -> str:
    return " ".join(sql.split())[:110]


class _TimedRelation:
    def __init__(self, relation, owner: TimedConnection, head: str) -> None:
        self._relation, self._owner, self._head = relation, owner, head

    def __getattr__(self, name: str):
        attribute = getattr(self._relation, name)
        if name not in _READERS:
            return attribute

        def read(*args, **kwargs):
            start = time.perf_counter()
            try:
                return attribute(*args, **kwargs)
            finally:
                self._owner.record(time.perf_counter() - start, self._head)

        return read


class TimedConnection:
    """Delegates to a DuckDB connection. With `own_transactions=False`, the caller's
    `begin transaction` / `commit` become no-ops, so that a replay can be rolled back whole."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, own_transactions: bool = True) -> None:
        self._conn = conn
        self._own_transactions = own_transactions
        self.phase = ""
        self.timings: list[tuple[float, str, str]] = []

    def record(self, seconds: float, head: str) -> None:
        self.timings.append((seconds, self.phase, head))

    def execute(self, sql: str, *args, **kwargs):
        if not self._own_transactions and sql.strip().lower() in ("begin transaction", "commit"):
            # Fetched whole: DuckDB refuses the next statement while a result is unread.
            self._conn.execute("select 1").fetchall()
            return self._conn
        self._explain(sql, *args, **kwargs)
        start = time.perf_counter()
        result = self._conn.execute(sql, *args, **kwargs)
        self.record(time.perf_counter() - start, _head(sql))
        return result

    def _explain(self, sql: str, *args, **kwargs) -> None:
        """With PROFILE_EXPLAIN=text, print EXPLAIN ANALYZE of each `create or replace`
        statement whose head contains the text (it runs twice; replacing makes that harmless)."""
        wanted = os.environ.get("PROFILE_EXPLAIN")
        head = _head(sql)
        if not wanted or wanted not in head or not head.lower().startswith("create or replace"):
            return
        plan = self._conn.execute("explain analyze " + sql, *args, **kwargs).fetchall()
        print(f"--- {head}\n{plan[0][1]}", flush=True)

    def sql(self, sql: str, *args, **kwargs):
        return _TimedRelation(self._conn.sql(sql, *args, **kwargs), self, _head(sql))

    def __getattr__(self, name: str):
        return getattr(self._conn, name)

    def report(self, top: int) -> str:
        """Seconds per phase, the `top` statements by total time over their runs (a chunked
        step runs each many times), then the `top` slowest single runs."""
        phases: dict[str, float] = defaultdict(float)
        totals: dict[tuple[str, str], list[float]] = defaultdict(list)
        for seconds, phase, head in self.timings:
            phases[phase] += seconds
            totals[(phase, head)].append(seconds)
        lines = [f"{phase or '-'}: {seconds:.1f} s" for phase, seconds in phases.items()]
        lines.append("total s, runs, phase, statement:")
        by_total = sorted(totals.items(), key=lambda item: -sum(item[1]))[:top]
        lines += [f"{sum(t):6.2f} {len(t):3} {p:16} {h}" for (p, h), t in by_total]
        lines.append("slowest runs:")
        lines += [
            f"{seconds:6.2f} {phase:16} {head}"
            for seconds, phase, head in sorted(self.timings, reverse=True)[:top]
        ]
        return "\n".join(lines)
