"""Time the ledger step's phases, and optionally every statement, on a connection.

Shared by `ledger_day3.py` (day 3's incremental step) and `ledger_rebuild.py` (a rebuild
from empty, as a backfill's last date does): the step's functions are wrapped in place so
that each reports its CPU and wall seconds, and the statements they run are labelled with
the innermost phase.
"""

import time
from collections import defaultdict

from benchmarks.profiles.timed_connection import TimedConnection
from billing_pipeline.warehouse import ledger, ledger_delta, ledger_keys


def time_phases(statements: TimedConnection) -> dict[str, list[float]]:
    """Wrap the ledger's phases; returns {phase: [cpu, wall]}, filled as they run."""
    phases = defaultdict(lambda: [0.0, 0.0])

    def timed(module, name):
        function = getattr(module, name)

        def wrapper(*args, **kwargs):
            cpu, wall = time.process_time(), time.perf_counter()
            outer, statements.phase = statements.phase, name
            try:
                return function(*args, **kwargs)
            finally:
                statements.phase = outer
                phases[name][0] += time.process_time() - cpu
                phases[name][1] += time.perf_counter() - wall

        setattr(module, name, wrapper)

    for name in ("scope_new_events", "compute_delta", "write_delta", "scope_sample",
                 "clear_all"):  # fmt: skip
        timed(ledger, name)
    for name in ("fold_all", "resume", "build_facts", "post_entries"):
        timed(ledger_delta, name)
    timed(ledger_keys, "refresh")  # part of scope_new_events and scope_sample
    return phases


def rounded(phases: dict[str, list[float]]) -> dict[str, list[float]]:
    return {k: [round(v[0], 2), round(v[1], 2)] for k, v in phases.items()}
