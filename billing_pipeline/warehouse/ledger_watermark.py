"""What the stored ledger was built from, and whether a run may extend it incrementally.

`ledger_store.build_state` holds one row: the last `store.events.seq` folded, a fingerprint
of everything that gives lines their meaning (posting rules, FX rules, functional currency,
rounding rule, this module's version) and one of the rates landed so far. A run is
incremental only when all of these still describe the stored ledger:

- no build state (a new or pre-incremental warehouse), another fingerprint of the rules, or
  a store whose last seq is below the watermark (rebuilt or truncated): full rebuild;
- other rates than last time: every rate the stored lines were converted at is looked up
  again; if any differs (a correction, a new date filling a stale fallback), full rebuild.
  New rates for dates no line uses yet change nothing stored: incremental.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import duckdb

from billing_pipeline.domain.fx import RateBook, RateError
from billing_pipeline.domain.posting import RULES_VERSION, rules_frame
from billing_pipeline.domain.rounding import RoundingRule
from billing_pipeline.warehouse.fx_postings import FX_RULES_VERSION

# Bump when the projection's code changes what it writes: stored ledgers are rebuilt.
PROJECTION_VERSION = "ledger-projection/2026.1"

BUILD_STATE_DDL = """
create table if not exists ledger_store.build_state (
    folded_seq bigint not null, settings varchar not null, rates varchar not null,
    mode varchar not null, built_at timestamptz not null
);
"""


@dataclass(frozen=True)
class BuildState:
    folded_seq: int
    settings: str
    rates: str
    mode: str  # full | incremental: how the stored ledger was last written


@dataclass(frozen=True)
class Plan:
    full: bool
    since_seq: int  # events after this are new
    upto_seq: int  # the last event this run folds
    reason: str


def settings_fingerprint(functional: str, rule: RoundingRule) -> str:
    parts = [PROJECTION_VERSION, RULES_VERSION, FX_RULES_VERSION, functional,
             RoundingRule(rule).value, rules_frame().write_csv()]  # fmt: skip
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def rates_fingerprint(conn: duckdb.DuckDBPyConnection) -> str:
    count, total = conn.execute(
        "select count(*), coalesce(sum(hash(rate_date, base_currency, quote_currency, rate, "
        "partition_date, file_id, source_line)), 0) from raw.rates"
    ).fetchall()[0]
    return f"{count}:{total}"


def read_state(conn: duckdb.DuckDBPyConnection) -> BuildState | None:
    rows = conn.execute(
        "select folded_seq, settings, rates, mode from ledger_store.build_state"
    ).fetchall()
    return BuildState(*rows[0]) if rows else None


def write_state(conn, folded_seq: int, settings: str, rates: str, mode: str, now) -> None:
    conn.execute("delete from ledger_store.build_state")
    conn.execute(
        "insert into ledger_store.build_state values ($seq, $settings, $rates, $mode, $now)",
        {"seq": folded_seq, "settings": settings, "rates": rates, "mode": mode, "now": now},
    )


def plan_run(
    conn: duckdb.DuckDBPyConnection,
    book: RateBook,
    functional: str,
    rule: RoundingRule,
    force_full: bool = False,
) -> Plan:
    (upto,) = conn.execute("select coalesce(max(seq), 0) from store.events").fetchall()[0]
    state = read_state(conn)
    if force_full:
        return Plan(True, 0, upto, "full rebuild asked for")
    if state is None:
        return Plan(True, 0, upto, "no build state")
    if state.settings != settings_fingerprint(functional, rule):
        return Plan(True, 0, upto, "posting rules, FX rules or settings changed")
    if upto < state.folded_seq:
        return Plan(True, 0, upto, "event store is behind the watermark")
    if state.rates != rates_fingerprint(conn):
        changed = changed_rates(conn, book, functional)
        if changed:
            return Plan(True, 0, upto, f"rates changed for lines already posted: {changed[0]}")
    return Plan(False, state.folded_seq, upto, "incremental")


def changed_rates(conn: duckdb.DuckDBPyConnection, book: RateBook, functional: str) -> list:
    """The (date, currency) pairs whose stored conversion the rate book would now change."""
    used = conn.execute(
        "select distinct effective_date, currency, rate, rate_date, rate_source "
        "from ledger_store.journal_lines where fact_type not like 'fx.%'"
    ).fetchall()
    changed = []
    for on, currency, rate, rate_date, source in used:
        try:
            quote = book.rate(on, currency, functional)
        except RateError:
            changed.append((on, currency))
            continue
        if (str(quote.rate), quote.rate_date, quote.source) != (rate, rate_date, source):
            changed.append((on, currency))
    return changed
