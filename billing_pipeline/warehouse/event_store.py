"""The append-only event store: every fact from every source, applied once, hash-chained.

Each staged row of a partition becomes a candidate event with an idempotency key (the billing
event's `event_id`; for processor and bank rows a key built from the source's own reference).
A key that is new is appended. A key already stored with the same payload is a duplicate and
changes nothing. A key already stored with a different payload is a conflict: quarantined
with both origins, never an overwrite. Every staged row leaves a receipt saying which of the
three happened to it, so "nothing lost, nothing doubled" can be counted.

Appended events are chained in `seq` order: `chain_hash = sha256(prev_hash | key | payload_hash)`.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import polars as pl
import pyarrow as pa

from billing_pipeline.settings import partitions_start
from billing_pipeline.warehouse import partition_marks
from billing_pipeline.warehouse.tables import PAYLOAD_TYPE

GENESIS_HASH = "0" * 64

STORE_DDL = f"""
create schema if not exists store;
-- Keys are unique without an index on them: an append classifies every candidate against the
-- stored keys in its own transaction, and appends are serialized by the chain, whose `seq`
-- primary key makes a concurrent append that read the same last link fail at commit. An
-- index on the key cost ~7 us per appended event (a 1M-payment day appends ~6M events).
create table if not exists store.events (
    seq bigint primary key,
    idempotency_key varchar not null,
    event_type varchar not null,
    occurred_at timestamptz not null,
    business_date date not null,
    aggregate_type varchar not null,
    aggregate_id varchar,
    payload {PAYLOAD_TYPE} not null,
    payload_hash varchar not null,
    prev_hash varchar not null,
    chain_hash varchar not null,
    source varchar not null,
    file_id varchar not null,
    source_line bigint,
    partition_date date not null,     -- the business date whose files delivered it
    recorded_at timestamptz not null,
    run_id varchar not null
);
create table if not exists store.event_receipts (
    partition_date date not null,
    source varchar not null,
    file_id varchar not null,
    source_line bigint,
    idempotency_key varchar not null,
    outcome varchar not null          -- appended | duplicate | conflict | rejected
);
"""

# One SELECT per staged table: (key, type, instant, business date, aggregate, payload).
# `$tz` is the configured business time zone; `$day` the partition.
_CANDIDATES = """
select event_id as idempotency_key, type as event_type, occurred_at,
       timezone($tz, occurred_at)::date as business_date,
       case when type like 'payment.%' then 'payment'
            when type like 'invoice.%' then 'invoice' else 'unknown' end as aggregate_type,
       case when type like 'invoice.%' then invoice_id else payment_id end as aggregate_id,
       payload, source, file_id, source_line
from raw.billing_events where partition_date = $day
union all
select processor || ':line:' || line_ref, 'settlement.' || line_type, occurred_at,
       timezone($tz, occurred_at)::date, 'settlement', processor_ref,
       to_json(struct_pack(processor, line_ref, line_type, processor_ref, merchant_ref,
           payout_ref, occurred_at, available_on, currency, gross_minor, fee_minor, net_minor,
           original_currency, original_minor, exchange_rate, description))::varchar,
       source, file_id, source_line
from (select * from raw.stripe_settlement_lines union all by name
      select * from raw.adyen_settlement_lines)
where partition_date = $day
union all
select processor || ':payout:' || payout_ref, 'payout.sent', created_at,
       timezone($tz, created_at)::date, 'payout', payout_ref,
       to_json(struct_pack(processor, payout_ref, bank_reference, created_at, arrival_date,
           currency, amount_minor))::varchar,
       source, file_id, source_line
from (select * from raw.stripe_payouts union all by name select * from raw.adyen_payouts)
where partition_date = $day
union all
select 'bank:' || account_id || ':' || bank_key,
       case when amount_minor >= 0 then 'bank.credit' else 'bank.debit' end,
       -- A statement gives only the booking date: the line counts as booked at the end of
       -- that day, after everything else that happened on it.
       timezone($tz, booking_date::timestamp + interval 1 day - interval 1 microsecond),
       booking_date, 'bank_account', account_id,
       to_json(struct_pack(bank_format, account_id, statement_id, entry_ref, end_to_end_ref,
           booking_date, value_date, currency, amount_minor, tx_code, counterparty,
           remittance_info))::varchar,
       source, file_id, source_line
from (
    -- The bank's own entry reference identifies an entry across statements (an intraday and
    -- an end-of-day statement repeat it); an ordinal separates the details of a batch entry.
    -- Without a usable reference, the entry's content stands in for it.
    select *,
        case when nullif(upper(trim(entry_ref)), '') not in ('NONREF', 'NOTPROVIDED', 'NONE')
            then 'ref:' || entry_ref || ':' || row_number() over (
                partition by file_id, account_id, entry_ref order by source_line)
            else 'entry:' || booking_date || ':' || currency || ':' || amount_minor || ':'
                || left(sha256(coalesce(remittance_info, '')), 16) || ':' || row_number() over (
                    partition by file_id, account_id, booking_date, currency, amount_minor,
                        remittance_info order by source_line)
        end as bank_key
    from raw.bank_lines where partition_date = $day
)
"""


@dataclass(frozen=True)
class AppendReport:
    candidates: int
    appended: int
    duplicates: int
    conflicts: int
    out_of_range: int = 0


def ensure_store(conn: duckdb.DuckDBPyConnection) -> None:
    from billing_pipeline.warehouse.tables import use_utc

    use_utc(conn)
    conn.execute(STORE_DDL)


# A decision's line is its rank by key among the date's decisions, numbered when the slice is
# written (recon.outputs): ranking the slice here cost 0.8 s at 1M decisions per read, and it
# is read once for the candidates and once per window of instants. A slice written before the
# column existed (its lines are null) is ranked here, by the same order.
_DECISIONS = """
select idempotency_key, event_type, occurred_at, business_date, aggregate_type, aggregate_id,
       payload, 'recon' as source, 'recon:' || as_of::varchar as file_id, source_line
from recon_store.decisions where as_of = $day
"""
# The rank is taken over the keys alone: the payloads are read once per window of instants
# (`_with_payloads`), and a filter on instants cannot pass below a window function over the
# rows it filters.
_UNNUMBERED_DECISIONS = """
with ranked as (
    select rowid as decision, row_number() over (order by idempotency_key) as source_line
    from recon_store.decisions where as_of = $day
)
select d.idempotency_key, d.event_type, d.occurred_at, d.business_date, d.aggregate_type,
       d.aggregate_id, d.payload, 'recon' as source, 'recon:' || d.as_of::varchar as file_id,
       ranked.source_line
from recon_store.decisions d join ranked on ranked.decision = d.rowid
where d.as_of = $day
"""


def append_partition(
    conn: duckdb.DuckDBPyConnection,
    partition_date: date,
    business_timezone: str,
    run_id: str,
    now: datetime,
) -> AppendReport:
    """Record the partition's staged rows as events. Rerunning it changes nothing."""
    ensure_store(conn)
    params = {"tz": business_timezone, "day": partition_date}
    return _in_batches(conn, _CANDIDATES, params, partition_date, "staged", run_id, now)


def append_decisions(
    conn: duckdb.DuckDBPyConnection, as_of: date, run_id: str, now: datetime
) -> AppendReport:
    """Record reconciliation's decisions of `as_of` (recon_store.decisions) as events.

    A decision is an event like any other: applied once per key. A later reconciliation that
    reaches a different decision under the same key is reported as a conflict and the first
    decision stands (a correction must be a new event, never an overwrite)."""
    ensure_store(conn)
    (unnumbered,) = conn.execute(
        "select count(*) from recon_store.decisions where as_of = ? and source_line is null",
        [as_of],
    ).fetchone()
    sql = _UNNUMBERED_DECISIONS if unnumbered else _DECISIONS
    return _in_batches(conn, sql, {"day": as_of}, as_of, "recon", run_id, now)


# New events are chained, stored and committed about this many at a time, in arrival order: a
# DuckDB transaction holds memory for every row it appends until it commits, and a
# 10M-payment day appends 30M events.
STORE_BATCH = 8 * 122_880


# scope -> (its writer's mark, the writers whose marks it refuses: those it reads from)
_MARKS = {
    "staged": (partition_marks.STORE_STAGED, (partition_marks.INGEST,)),
    "recon": (partition_marks.STORE_RECON, (partition_marks.INGEST, partition_marks.STORE_STAGED)),
}


def _in_batches(conn, sql, params, partition_date, scope, run_id, now) -> AppendReport:
    """Append under the partition's mark (`partition_marks`): a stop half-way leaves a prefix
    of the day's events in arrival order, which readers refuse until a rerun appends the rest
    after it, as the uninterrupted append would have."""
    writer, reads = _MARKS[scope]
    partition_marks.require_finished_writes(conn, reads)
    collect_candidates(conn, sql, params)
    conn.execute("begin transaction")
    try:
        partition_marks.mark_started(conn, writer, partition_date, run_id, now)
        report = _append(conn, sql, params, partition_date, scope, run_id, now)
        partition_marks.mark_finished(conn, writer, partition_date)
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
    return report


def collect_candidates(conn, candidates_sql: str, params: dict) -> None:
    """The day's candidates without their payloads: keys, instants, payload hashes and lineage.
    A payload is read again from its staged row only where it is written (`_with_payloads`):
    copying the day's payloads here spilled ~19 GB at 30M candidates under a 1.5 GB cap, and
    ran a disk full once. Arrival order (occurred_at, key, file, line) is sorted on these
    narrow rows only (`receipts`, `_chain_links`).

    Made before the append's transaction begins, so that the transaction holds none of it: a
    DuckDB transaction holds the rows it writes until it commits (benchmarks/RESULTS.md,
    session 13)."""
    conn.execute(
        f"""
        create or replace temp table all_candidates as
        select idempotency_key, occurred_at, business_date, sha256(payload) as payload_hash,
               source, file_id, source_line
        from ({candidates_sql})
        """,
        params,
    )


def _with_payloads(candidates_sql: str, rows: str, window: bool = False) -> str:
    """`rows` (a relation with idempotency_key, file_id, source_line) joined to their whole
    candidates, payloads included, recomputed from the staged rows. With `window`, only the
    candidates that occurred in [$low, $high) are read: the event log comes about in time
    order, so its zonemaps skip the rest. A candidate is one (key, file, line): a line that
    yields several events (a bank batch's details) gives each its own key."""
    instants = (
        "where occurred_at >= $low and occurred_at < coalesce($high, 'infinity'::timestamptz)"
        if window
        else ""
    )
    return f"""
        {rows} r join (select * from ({candidates_sql}) {instants}) a
        on a.idempotency_key = r.idempotency_key and a.file_id = r.file_id
           and a.source_line is not distinct from r.source_line
    """


def _append(conn, candidates_sql, params, partition_date, scope, run_id, now) -> AppendReport:
    """Classify `all_candidates` (collected by `collect_candidates` from `candidates_sql`)
    against the store, store the new events and write the receipts and quarantine rows."""
    # Each scope (staged files, recon decisions) owns its receipts and conflicts of the day.
    own = "source = 'recon'" if scope == "recon" else "source != 'recon'"
    conn.execute(
        f"delete from store.event_receipts where partition_date = ? and {own}", [partition_date]
    )
    conn.execute(
        "delete from ingest.quarantine where partition_date = ? and stage = 'ledger' "
        f"and (reason like 'conflicting payload%' or reason like 'event dated %') and {own}",
        [partition_date],
    )
    # A fact dated after the day its file was delivered for (beyond a day of time-zone slack)
    # or before the first business date cannot be booked: it would change closed days or
    # book the future. It is refused with the reason, not stored.
    dates = {"first": date.fromisoformat(partitions_start()), "day": partition_date}
    conn.execute(
        """
        create or replace temp table out_of_range as
        select *, case when business_date < $first
                       then 'event dated ' || business_date || ' before the first business date '
                            || $first
                       else 'event dated ' || business_date || ' after its delivery date '
                            || $day end as reason
        from all_candidates
        where business_date not between $first and $day + interval 1 day
        """,
        dates,
    )
    # The stored event for each key, if any, and the first candidate of each new key. Narrow
    # rows only: the window sorts them by key, and payloads would make that sort the cost.
    # The stored events are found over their keys alone, then read by seq: joining every
    # stored event's hash, file and line to the candidates read them all for a few hits.
    conn.execute(
        "create or replace temp table stored_candidates as "
        "select seq from store.events semi join all_candidates using (idempotency_key)"
    )
    conn.execute(
        """
        create or replace temp table receipts as
        with candidates as (
            select idempotency_key, payload_hash, source, file_id, source_line, occurred_at
            from all_candidates
            where business_date between $first and $day + interval 1 day
        ), classified as (
            select c.*,
                   s.payload_hash as stored_hash,
                   s.file_id as stored_file_id, s.source_line as stored_line,
                   first_value(c.payload_hash) over keyed as first_hash,
                   row_number() over keyed as nth
            from candidates c
            left join (select idempotency_key, payload_hash, file_id, source_line
                       from store.events where seq in (select seq from stored_candidates)) s
                using (idempotency_key)
            window keyed as (partition by c.idempotency_key
                             order by c.occurred_at, c.file_id, c.source_line)
        )
        select occurred_at, idempotency_key, payload_hash, source, file_id, source_line,
            case
                when stored_hash is not null and stored_file_id = file_id
                     and stored_line is not distinct from source_line then 'appended'
                when stored_hash is not null and stored_hash = payload_hash then 'duplicate'
                when stored_hash is not null then 'conflict'
                when nth = 1 then 'new'
                when payload_hash = first_hash then 'duplicate'
                else 'conflict'
            end as outcome
        from classified
        """,
        dates,
    )
    _store_new_events(conn, candidates_sql, params, partition_date, run_id, now)
    conn.execute(
        """
        insert into store.event_receipts
        select $day, source, file_id, source_line, idempotency_key,
               case outcome when 'new' then 'appended' else outcome end
        from receipts
        union all
        select $day, source, file_id, source_line, idempotency_key, 'rejected'
        from out_of_range
        """,
        {"day": partition_date},
    )
    counts = dict(
        conn.execute("select outcome, count(*) from receipts group by outcome").fetchall()
    )
    ((refused,),) = conn.execute("select count(*) from out_of_range").fetchall()
    # Refused and conflicting candidates are quarantined with their payloads, read again from
    # their staged rows (one more pass over the day, so only when there are any).
    quarantined = """
        select file_id, source, source_line, idempotency_key, reason from out_of_range
        union all
        select file_id, source, source_line, idempotency_key,
               'conflicting payload for idempotency key ' || idempotency_key
                   || ' (kept: the first one recorded)'
        from receipts where outcome = 'conflict'
    """
    if refused or counts.get("conflict"):
        conn.execute(
            f"""
            insert into ingest.quarantine
            select r.file_id, r.source, $day, coalesce(reg.path, r.file_id), r.source_line,
                   'ledger', r.reason, a.payload, $now, $run
            from {_with_payloads(candidates_sql, f"({quarantined})")}
            left join (select distinct file_id, path from ingest.file_registry
                       where status = 'landed') reg on reg.file_id = r.file_id
            """,
            {**params, "day": partition_date, "now": now, "run": run_id},
        )
    return AppendReport(
        candidates=sum(counts.values()) + refused,
        appended=counts.get("new", 0) + counts.get("appended", 0),
        duplicates=counts.get("duplicate", 0),
        conflicts=counts.get("conflict", 0),
        out_of_range=refused,
    )


def _store_new_events(conn, candidates_sql, params, partition_date, run_id, now) -> None:
    """Chain and store the new events a window of arrival instants at a time, each window
    holding about `STORE_BATCH` of them, and commit each window. A window is selected by its
    instants, never sorted with its payloads: the event log comes about in time order, so the
    staged rows' zonemaps skip most of the others. Events that share an instant share a window,
    so a window can hold more (a day's bank lines are all booked at its end: 836k at 10M)."""
    last = conn.execute(
        "select seq, chain_hash from store.events where seq = (select max(seq) from store.events)"
    ).fetchall()
    next_seq, prev_hash = (last[0][0] + 1, last[0][1]) if last else (1, GENESIS_HASH)
    starts = [
        instant
        for (instant,) in conn.execute(
            "select distinct occurred_at from (select occurred_at, row_number() over "
            "(order by occurred_at) as nth from receipts where outcome = 'new') "
            "where (nth - 1) % $batch = 0 order by occurred_at",
            {"batch": STORE_BATCH},
        ).fetchall()
    ]
    windows = [{"low": low, "high": high} for low, high in itertools.pairwise([*starts, None])]
    if not windows:
        return
    # The next window's links are hashed (Python, holding the GIL) in a thread while this
    # window's rows are inserted (DuckDB, outside the GIL); the chain is the same either way.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="chain") as hasher:
        links = hasher.submit(_chain_links, _new_in(conn, windows[0]), next_seq, prev_hash)
        for number, window in enumerate(windows):
            chain = links.result()
            next_seq, prev_hash = next_seq + chain.num_rows, chain.column("hash")[-1].as_py()
            if number + 1 < len(windows):
                following = _new_in(conn, windows[number + 1])
                links = hasher.submit(_chain_links, following, next_seq, prev_hash)
            _insert_window(conn, candidates_sql, chain, window, params, partition_date, run_id,
                           now)  # fmt: skip


def _insert_window(conn, candidates_sql, chain, window, params, partition_date, run_id, now):
    """Store one window's chained events with their payloads and commit them."""
    conn.register("chain_links", chain)
    try:
        conn.execute(
            f"""
            insert into store.events
            select r.seq, a.idempotency_key, a.event_type, a.occurred_at,
                   a.business_date, a.aggregate_type, a.aggregate_id, a.payload,
                   r.payload_hash, r.prev, r.hash, a.source, a.file_id,
                   a.source_line, $day, $now, $run
            from {_with_payloads(candidates_sql, "chain_links", window=True)}
            order by r.seq
            """,
            {**params, "day": partition_date, "now": now, "run": run_id, **window},
        )
    finally:
        # After a failed insert the transaction is aborted and unregistering raises too,
        # which would hide the insert's own error (a racing append's primary key conflict).
        with contextlib.suppress(duckdb.Error):
            conn.unregister("chain_links")
    partition_marks.commit_batch(conn)


# What a chain link carries to find its candidate again (`_with_payloads`) and store its hash.
LINK_LINEAGE = ("idempotency_key", "file_id", "source_line", "payload_hash")


def _new_in(conn, window: dict) -> pa.Table:
    """The new events that occurred in [low, high), in arrival order: their `LINK_LINEAGE`
    and each chain message's tail (`|key|payload_hash`) as bytes built by DuckDB."""
    return conn.sql(
        "select idempotency_key, file_id, source_line, payload_hash, "
        "encode('|' || idempotency_key || '|' || payload_hash) as tail from receipts "
        "where outcome = 'new' and occurred_at >= $low "
        "and occurred_at < coalesce($high, 'infinity'::timestamptz) "
        "order by occurred_at, idempotency_key, file_id, source_line",
        params=window,
    ).to_arrow_table()


def _chain_links(new: pa.Table, next_seq: int, prev_hash: str) -> pa.Table:
    """Chain `new` (`_new_in`) after the link `prev_hash`: their `LINK_LINEAGE` with (seq,
    prev, hash). Sequential by nature, so it runs in Python, but only the hashing itself is
    done per event: the tails arrive as bytes, and the hex digests leave as one buffer that
    both the `prev` and `hash` columns slice (on a 1M-payment day, converting keys, hashes
    and links one Python object at a time took twice as long as hashing them)."""
    sha256 = hashlib.sha256
    digests: list[str] = []
    add = digests.append
    prev = prev_hash.encode()
    for tail in new.column("tail").to_pylist():
        # Same bytes as chain_link(prev_hash, key, payload_hash), without a call per event.
        digest = sha256(prev + tail).hexdigest()
        add(digest)
        prev = digest.encode()
    count = new.num_rows
    # Every digest is 64 ASCII characters: digest i spans bytes [64 i, 64 (i + 1)).
    offsets = pl.int_range(0, 64 * (count + 1), 64, dtype=pl.Int64, eager=True).to_arrow()
    hashes = pa.LargeStringArray.from_buffers(
        count, offsets.buffers()[1], pa.py_buffer("".join(digests).encode("ascii"))
    )
    # Each link's prev is the link before it; the first's is the last stored link (whatever
    # its length: a store is not ours to assume well-formed here, the chain check judges it).
    prevs = pa.concat_arrays([pa.array([prev_hash], pa.large_string()), hashes]).slice(0, count)
    return pa.table(
        {
            **{name: new.column(name) for name in LINK_LINEAGE},
            "seq": pl.int_range(next_seq, next_seq + count, dtype=pl.Int64, eager=True).to_arrow(),
            "prev": prevs,
            "hash": hashes,
        }
    )


def chain_link(prev_hash: str, key: str, payload_hash: str) -> str:
    return hashlib.sha256(f"{prev_hash}|{key}|{payload_hash}".encode()).hexdigest()


# The chain is checked a span of this many seqs at a time, each span against the link before
# it, so the check's sort stays a span's size: one window over a 10M-payment day's 30M events
# sorted them all, spilling under a memory cap.
CHECK_SPAN = 8 * 122_880


def chain_violations(
    conn: duckdb.DuckDBPyConnection, limit: int = 20, since_seq: int = 0
) -> list[dict]:
    """Recompute the chain and the payload hashes; any edit or gap shows up here.

    Set-based, so it scales with DuckDB's threads: each link is checked against the stored
    link before it (`lag`), which is what walking the chain in `seq` order does. With
    `since_seq`, only events after that one are checked (against its stored link): a daily
    check of what was appended since the last verified event, O(day) instead of O(history)."""
    ensure_store(conn)
    found: list[tuple[int, str]] = []
    low = since_seq
    while len(found) < limit:
        ((following,),) = conn.execute(
            "select min(seq) from store.events where seq > ?", [low]
        ).fetchall()
        if following is None:
            break
        # Past a gap, the span starts just before the next event; that event has no link
        # before it in the span, so it is reported, as the gap's first event is by the walk.
        low = max(low, following - 1)
        high = low + CHECK_SPAN
        found += _span_violations(conn, low, high, limit - len(found))
        low = high
    return [{"seq": seq, "idempotency_key": key} for seq, key in found]


def _span_violations(conn, low: int, high: int, limit: int) -> list[tuple[int, str]]:
    """Violations among the events with seq in (low, high], each checked against the event
    before it; the first against the event at `low` (itself checked by the span before)."""
    return conn.execute(
        f"""
        select seq, idempotency_key from (
            select *,
                   coalesce(lag(chain_hash) over chain, '{GENESIS_HASH}') as expected_prev,
                   coalesce(lag(seq) over chain + 1, 1) as expected_seq
            -- Hash the payloads first so the window carries narrow rows, not the payloads.
            from (select seq, idempotency_key, payload_hash, prev_hash, chain_hash,
                         sha256(payload) as actual_payload_hash
                  from store.events where seq >= $low and seq <= $high)
            window chain as (order by seq)
        )
        where seq > $low and (seq != expected_seq
           or actual_payload_hash != payload_hash
           or prev_hash != expected_prev
           or chain_hash != sha256(expected_prev || '|' || idempotency_key || '|'
                                   || actual_payload_hash))
        order by seq
        limit {int(limit)}
        """,
        {"low": low, "high": high},
    ).fetchall()
