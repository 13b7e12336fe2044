"""Bring the ledger projection up to date with the event store, in one transaction (one per
chunk of new events when there are many: `rebuild_ledger`).

Writes `ledger_store.*`: payment and invoice states and histories, and the journal. Events
the lifecycles refuse and facts that cannot be posted or converted are quarantined (stage
`ledger`) with the event's file and line; they never move a state or a balance.

A run is incremental when it can be (`ledger_watermark`): only the aggregates named by events
appended since the last run are refolded, from their whole history, and only their rows, the
entries of the facts that depend on them, the realized FX of the open items those touch and
the month-end revaluations are replaced (`ledger_scope`, `ledger_delta`). Otherwise, and on
request, everything is rebuilt. Both give the same tables (tests/warehouse/
test_ledger_incremental.py); `journal_rebuilds_identically` checks it on every run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

import duckdb
import polars as pl

from billing_pipeline import settings
from billing_pipeline.domain.fx import RateBook, RateError, parse_override
from billing_pipeline.domain.rounding import RoundingRule
from billing_pipeline.warehouse import ledger_watermark as watermark
from billing_pipeline.warehouse import partition_marks
from billing_pipeline.warehouse.event_store import ensure_store
from billing_pipeline.warehouse.journal import build_facts, post_and_convert
from billing_pipeline.warehouse.ledger_check import delta_matches_stored, sample_buckets
from billing_pipeline.warehouse.ledger_delta import compute_delta
from billing_pipeline.warehouse.ledger_scope import scope_new_events, scope_sample
from billing_pipeline.warehouse.ledger_writes import (
    AGGREGATE_TABLES,
    aggregate_frame,
    clear_all,
    index_quarantine,
    rejections_frame,
    write_all,
    write_delta,
)
from billing_pipeline.warehouse.lifecycles import fold_all

LEDGER_DDL = """
create schema if not exists ledger_store;
create table if not exists ledger_store.journal_lines (
    fact_id varchar not null, fact_type varchar not null, line_no bigint not null,
    account varchar not null, currency varchar not null,
    debit_minor bigint not null, credit_minor bigint not null, rules_version varchar not null,
    event_id varchar not null, effective_date date not null,
    functional_debit_minor bigint not null, functional_credit_minor bigint not null,
    rate varchar not null, rate_date date not null, rate_source varchar not null,
    functional_currency varchar not null,
    partition_date date, source_line bigint, source_file varchar,
    fx_item varchar
);
-- Warehouses created before fx_item (the open item a line opens or closes) gain it here.
alter table ledger_store.journal_lines add column if not exists fx_item varchar;
create table if not exists ledger_store.payment_states (
    payment_id varchar not null, state varchar not null, state_since timestamptz,
    currency varchar, amount_authorized_minor bigint, amount_captured_minor bigint,
    amount_refunded_minor bigint, amount_disputed_minor bigint, state_before_dispute varchar,
    processor varchar, processor_ref varchar, invoice_id varchar, customer_id varchar
);
create table if not exists ledger_store.invoice_states (
    invoice_id varchar not null, customer_id varchar, currency varchar, amount_minor bigint,
    credited_minor bigint, paid_minor bigint, written_off_minor bigint,
    amount_due_minor bigint, customer_credit_minor bigint, state varchar not null,
    due_date date, sent_at timestamptz, state_since timestamptz
);
create table if not exists ledger_store.payment_history (
    payment_id varchar not null, from_state varchar, to_state varchar not null,
    event_id varchar not null, occurred_at timestamptz not null
);
create table if not exists ledger_store.invoice_history (
    invoice_id varchar not null, from_state varchar, to_state varchar not null,
    event_id varchar not null, event_type varchar not null, occurred_at timestamptz not null,
    customer_id varchar, currency varchar not null, due_date date, amount_minor bigint,
    amount_due_minor bigint not null, paid_minor bigint not null, credited_minor bigint not null,
    written_off_minor bigint not null, customer_credit_minor bigint not null,
    receivable_delta_minor bigint not null, customer_credit_delta_minor bigint not null
);
"""


# The stored event each of the ledger's quarantine rows is about (`ledger_scope`).
QUARANTINE_INDEX_DDL = """
create table ledger_store.quarantined_events (seq bigint not null, reason varchar not null)
"""


def ensure_ledger(conn: duckdb.DuckDBPyConnection) -> None:
    ensure_store(conn)
    conn.execute(LEDGER_DDL)
    conn.execute(watermark.BUILD_STATE_DDL)
    indexed = conn.execute(
        "select count(*) from duckdb_tables() "
        "where schema_name = 'ledger_store' and table_name = 'quarantined_events'"
    ).fetchall()[0][0]
    if not indexed:

        def create_and_fill():
            conn.execute(QUARANTINE_INDEX_DDL)
            index_quarantine(conn)

        # In one transaction: a stop in between must not leave an empty index that later
        # runs would trust (a ledger that predates the index has quarantine rows already).
        _in_transaction(conn, create_and_fill)


@dataclass(frozen=True)
class LedgerReport:
    entries: int
    lines: int
    payments: int
    invoices: int
    rejected_events: int
    unposted_facts: int
    mode: str = "full"  # full | incremental
    reason: str = ""  # why a full rebuild


def rate_book(conn: duckdb.DuckDBPyConnection) -> tuple[RateBook, list[str]]:
    """ECB rates shipped with the package plus every rates file landed so far.

    When two files disagree on a date and pair, the later delivery wins (and is reported):
    a rates file is how treasury corrects a rate.
    """
    # Rates come from raw.rates; its callers (FX rates, the ledger) read the staged events too.
    partition_marks.require_finished_writes(
        conn, (partition_marks.INGEST, partition_marks.STORE_STAGED)
    )
    rows = conn.execute(
        "select rate_date, base_currency, quote_currency, rate, source_line from raw.rates "
        "qualify row_number() over (partition by rate_date, base_currency, quote_currency "
        "order by partition_date desc, file_id, source_line) = 1 "
        "order by rate_date, base_currency, quote_currency"
    ).fetchall()
    overrides, notes = [], []
    for rate_date, base, quote, rate, line in rows:
        try:
            overrides.append(parse_override(rate_date, base, quote, rate, line))
        except (RateError, ValueError) as error:
            notes.append(f"rates line {line}: {error}")
    return RateBook.from_ecb(overrides), notes


def rebuild_ledger(
    conn: duckdb.DuckDBPyConnection,
    functional: str,
    rule: RoundingRule,
    run_id: str,
    now: datetime,
    full: bool = False,
    chunk_events: int | None = None,
) -> LedgerReport:
    """Incremental when the stored ledger allows it (`ledger_watermark.plan_run`), else, or
    with `full`, a rebuild of everything.

    More new events than `chunk_events` (default `settings.ledger_chunk_events`) are folded
    in chunks of that many, one transaction each, every chunk an incremental run over the
    store as it stood at the chunk's last event: the ledger's memory is bounded by the
    chunk, not the history. Only the month-end revaluations wait for the last chunk: they
    are summed over the whole journal, and nothing else reads them, so recomputing them in
    every chunk scanned the journal as it grew (11.6 s of a 30-day history's rebuild in nine
    chunks). A stop between chunks leaves the previous run's revaluations until the next
    run's last chunk. A rebuild of a store that large empties the ledger and catches
    up the same way (a stop half-way resumes from the last chunk written); its audit is then
    the rotating sample of an incremental run, since rebuilding the whole journal in memory
    to compare is exactly what would not fit."""
    ensure_ledger(conn)
    partition_marks.require_finished_writes(conn)
    book, _ = rate_book(conn)
    plan = watermark.plan_run(conn, book, functional, rule, force_full=full)
    stamp = (watermark.settings_fingerprint(functional, rule), watermark.rates_fingerprint(conn))
    chunk = chunk_events or settings.ledger_chunk_events()
    if plan.full and plan.upto_seq <= chunk:
        report = _rebuild_all(conn, book, functional, rule, run_id, now, plan, stamp)
        return LedgerReport(**{**report.__dict__, "reason": plan.reason})
    if plan.full:
        _in_transaction(conn, lambda: clear_all(conn))
    since = 0 if plan.full else plan.since_seq
    ends = chunk_ends(since, plan.upto_seq, chunk)
    for upto in ends:
        revalue = upto == ends[-1]
        _fold_chunk(conn, book, functional, rule, run_id, now, since, upto, stamp, revalue)
        since = upto
    report = _stored_report(conn)
    if plan.full:
        reason = f"{plan.reason}; in {len(ends)} chunks of up to {chunk} events"
        return dataclasses.replace(report, mode="full", reason=reason)
    return report


def chunk_ends(since: int, upto: int, chunk: int) -> list[int]:
    """The last seq of each chunk folding (since, upto]: as few chunks as `chunk` allows, of
    equal size (within one event). Equal, not `chunk` each and the remainder last: the
    ledger's peak follows the largest chunk, and the number of chunks sets the time (1M
    world's day 3, 5.25M events: 2.1M + 2.1M + 1.05M took 114.9 s at a peak of 9,566 MiB,
    three of 1.75M 114.0 s at 9,039 MiB). At least one chunk: a run with no new events still
    re-posts facts held back by a posting problem (a rates file may have arrived since)."""
    count = max(1, -(-(upto - since) // chunk))
    return [since + (upto - since) * (i + 1) // count for i in range(count)]


def _fold_chunk(conn, book, functional, rule, run_id, now, since, upto, stamp, revalue) -> None:
    scope_new_events(conn, since, upto)
    delta = compute_delta(conn, book, functional, rule, since, upto, revalue=revalue)
    step = watermark.Plan(False, since, upto, "incremental")
    _in_transaction(conn, lambda: write_delta(conn, delta, run_id, now, step, stamp))


def _rebuild_all(conn, book, functional, rule, run_id, now, plan, stamp) -> LedgerReport:
    folded = fold_all(conn)
    facts = build_facts(conn, folded)
    lines, problems = post_and_convert(conn, facts, book, functional, rule)
    rejections = rejections_frame(folded)
    posting_problems = problems.select("event_id", reason=pl.lit("posting: ") + pl.col("reason"))
    quarantine = pl.concat([rejections, posting_problems])

    def write():
        write_all(conn, folded, lines, quarantine, run_id, now)
        watermark.write_state(conn, plan.upto_seq, *stamp, "full", now)

    _in_transaction(conn, write)
    return LedgerReport(
        entries=lines["fact_id"].n_unique() if lines.height else 0,
        lines=lines.height,
        payments=len(folded.payment_states),
        invoices=len(folded.invoice_states),
        rejected_events=rejections.height,
        unposted_facts=posting_problems.height,
    )


def _in_transaction(conn: duckdb.DuckDBPyConnection, write) -> None:
    conn.execute("begin transaction")
    try:
        write()
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise


def _stored_report(conn: duckdb.DuckDBPyConnection) -> LedgerReport:
    entries, lines = conn.execute(
        "select count(distinct fact_id), count(*) from ledger_store.journal_lines"
    ).fetchall()[0]
    rejected, unposted = conn.execute(
        "select count(*) filter (where reason like 'lifecycle:%'), "
        "count(*) filter (where reason like 'posting:%') "
        "from ingest.quarantine where stage = 'ledger'"
    ).fetchall()[0]
    (payments,) = conn.execute("select count(*) from ledger_store.payment_states").fetchall()[0]
    (invoices,) = conn.execute("select count(*) from ledger_store.invoice_states").fetchall()[0]
    return LedgerReport(entries, lines, payments, invoices, rejected, unposted, "incremental")


def journal_rebuilds_identically(
    conn: duckdb.DuckDBPyConnection, functional: str, rule: RoundingRule
) -> bool:
    """After a full rebuild: rebuild the journal in memory and compare it with the stored one.
    After an incremental run: rebuild a rotating sample of aggregates, with the entries and FX
    that depend on them, from their whole history (`ledger_check`)."""
    state = watermark.read_state(conn)
    if state is None or state.mode == "full":
        return _full_rebuild_matches(conn, functional, rule)
    book, _ = rate_book(conn)
    buckets = sample_buckets(conn)
    scope_sample(conn, state.folded_seq % buckets, buckets, state.folded_seq)
    delta = compute_delta(conn, book, functional, rule, state.folded_seq, state.folded_seq)
    aggregates = [
        (table, aggregate_frame(delta.folded, attribute, columns), key, scope)
        for table, attribute, columns, key, scope in AGGREGATE_TABLES
    ]
    return delta_matches_stored(conn, delta, aggregates)


def _full_rebuild_matches(
    conn: duckdb.DuckDBPyConnection, functional: str, rule: RoundingRule
) -> bool:
    folded = fold_all(conn)
    book, _ = rate_book(conn)
    rebuilt, _ = post_and_convert(conn, build_facts(conn, folded), book, functional, rule)
    stored = conn.sql("select * from ledger_store.journal_lines").pl()
    order = ["fact_id", "line_no"]
    if rebuilt.height == 0:
        return stored.height == 0
    rebuilt = rebuilt.select(stored.columns).cast(dict(stored.schema))
    return stored.sort(order).equals(rebuilt.sort(order))
