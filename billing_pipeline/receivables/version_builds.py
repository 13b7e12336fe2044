"""Build `invoice_versions` incrementally: refold only the invoices an event reached since the
last build.

Every version of every invoice used to be refolded on every run, so the model's cost grew with
all invoices ever issued. An invoice's versions change only when its history does, and the
ledger (re)writes an invoice's history only when an event about it is stored, so a build needs
the invoices whose history names an event stored after the last build's newest one
(`built_through_seq`). Those invoices are refolded from their whole history (a late event can
change versions before it) and replace their rows (dbt's delete+insert on `invoice_id`).

A table built by other fold code (`fold_version`), or lacking these columns, is refolded whole.
"""

from __future__ import annotations

import hashlib
import inspect
import math

import duckdb
import polars as pl

from billing_pipeline.domain import invoices
from billing_pipeline.receivables import version_frames, versions
from billing_pipeline.receivables.version_frames import split_in_fold_order, versions_in_fold_order
from billing_pipeline.receivables.versions import (
    VERSION_COLUMNS,
    KnownEvent,
    all_versions,
    event_from_history,
)
from billing_pipeline.warehouse.tables import query_frame

# The fold is the domain's: its source is the version of what the table holds.
FOLD_VERSION = hashlib.sha256(
    "".join(inspect.getsource(module) for module in (invoices, versions, version_frames)).encode()
).hexdigest()[:16]
EVERYTHING = -1

SCHEMA = {
    "invoice_id": pl.Utf8, "known_from": pl.Date, "customer_id": pl.Utf8, "currency": pl.Utf8,
    "amount_minor": pl.Int64, "amount_due_minor": pl.Int64, "state": pl.Utf8,
    "due_date": pl.Date, "paid_minor": pl.Int64, "credited_minor": pl.Int64,
    "written_off_minor": pl.Int64, "customer_credit_minor": pl.Int64,
    "state_since": pl.Datetime("us", "UTC"),
}  # fmt: skip
assert tuple(SCHEMA) == VERSION_COLUMNS

# The history of the invoices due for a refold: the events stored after `since` are found
# first (a range of `seq`, the store's few newest row groups), and only their invoices'
# history is joined with the store for dates. Joining every invoice's history with the store
# to find them, and again for the newest event, made the fold of the 30-day world's last date
# take 2.7-2.8 s against 2.2-2.3 s (benchmarks/RESULTS.md, session 34).
_ALL_HISTORY = """
select h.*, e.business_date, e.partition_date as recorded_on
from ledger_store.invoice_history h
left join store.events e on e.idempotency_key = h.event_id
"""
_HISTORY = (
    _ALL_HISTORY
    + """
where h.invoice_id in (
    select invoice_id from ledger_store.invoice_history
    where event_id in (select idempotency_key from store.events where seq > $since)
)
"""
)


def _history(since: int) -> tuple[str, dict[str, int]]:
    """The history query of the invoices to refold after `since`, and its parameters."""
    return (_ALL_HISTORY, {}) if since == EVERYTHING else (_HISTORY, {"since": since})


# The newest event any invoice's history names. `since` was that at the last build, so only the
# events stored after it are looked up; with none named, it still is.
_NEWEST = """
select greatest($since, coalesce(max(seq), 0)) from store.events
where seq > $since and idempotency_key in (select event_id from ledger_store.invoice_history)
"""


def refold_after(conn: duckdb.DuckDBPyConnection, existing: str | None) -> int:
    """The store sequence after which an event makes its invoice due for a refold, given the
    table built before (`existing`, a relation name; None when there is none)."""
    if existing is None:
        return EVERYTHING
    columns = {
        name
        for (name,) in conn.execute(f"select column_name from (describe {existing})").fetchall()
    }
    if not {"built_through_seq", "fold_version"} <= columns:
        return EVERYTHING
    [(seq, folds)] = conn.execute(
        f"select max(built_through_seq), list(distinct fold_version) from {existing}"
    ).fetchall()
    if seq is None or folds != [FOLD_VERSION]:
        return EVERYTHING
    return seq


def versions_frame(conn: duckdb.DuckDBPyConnection, since: int) -> pl.DataFrame:
    """Every version of each invoice whose history names an event stored after `since`."""
    [(newest,)] = conn.execute(_NEWEST, {"since": since}).fetchall()
    return _versions(query_frame(conn, *_history(since)), newest)


# A build refolds its invoices about this many history rows at a time, each batch a bucket of
# invoice ids, and leaves the versions in DuckDB: a first build of a 10M-payment day held every
# invoice's history and versions in the dbt process at once.
BATCH_HISTORY_ROWS = 500_000


def versions_relation(
    conn: duckdb.DuckDBPyConnection, since: int, batch_rows: int = BATCH_HISTORY_ROWS
) -> duckdb.DuckDBPyRelation:
    """`versions_frame` as a relation over a temp table, built a bucket of invoices at a time
    (an invoice's versions depend on its own history only)."""
    [(newest,)] = conn.execute(_NEWEST, {"since": since}).fetchall()
    history, parameters = _history(since)
    conn.execute(f"create or replace temp table invoice_history_to_fold as {history}", parameters)
    [(rows,)] = conn.execute("select count(*) from invoice_history_to_fold").fetchall()
    buckets = max(1, math.ceil(rows / batch_rows))
    for bucket in range(buckets):
        # Typed like hash(), or the modulo is taken as a HUGEINT (`ledger_scope.scope_sample`).
        history = query_frame(
            conn,
            "select * from invoice_history_to_fold "
            "where hash(invoice_id) % $buckets::ubigint = $bucket::ubigint",
            {"buckets": buckets, "bucket": bucket},
        )
        conn.register("invoice_versions_batch", _versions(history, newest).to_arrow())
        try:
            if bucket == 0:
                conn.execute(
                    "create or replace temp table invoice_versions_folded as "
                    "select * from invoice_versions_batch"
                )
            else:
                conn.execute(
                    "insert into invoice_versions_folded select * from invoice_versions_batch"
                )
        finally:
            conn.unregister("invoice_versions_batch")
    conn.execute("drop table invoice_history_to_fold")
    return conn.table("invoice_versions_folded")


def _versions(history: pl.DataFrame, newest: int) -> pl.DataFrame:
    frame = versions_of_history(history)
    # A version holds until the invoice's next one (exclusive); the last one for ever (null).
    # The frame is sorted by invoice and date, so the neighbouring rows are the invoice's
    # versions before and after, unless they are another invoice's.
    invoice = pl.col("invoice_id")
    return frame.with_columns(
        valid_to=pl.when(invoice.eq_missing(invoice.shift(-1))).then(
            pl.col("known_from").shift(-1)
        ),
        previous_state=pl.when(invoice.eq_missing(invoice.shift(1))).then(pl.col("state").shift(1)),
        built_through_seq=pl.lit(newest, dtype=pl.Int64),
        fold_version=pl.lit(FOLD_VERSION),
    )


def versions_of_history(history: pl.DataFrame) -> pl.DataFrame:
    """`SCHEMA` rows, by invoice and date, of the invoices in `history` (invoice_history rows
    with the `business_date` and `recorded_on` of their events): set-based for those whose
    events became known in fold order (`version_frames`), by refolding for the others."""
    regular, others = split_in_fold_order(history)
    return pl.concat(
        [versions_in_fold_order(regular).cast(SCHEMA), refolded_versions(others)]
    ).sort("invoice_id", "known_from")


def refolded_versions(history: pl.DataFrame) -> pl.DataFrame:
    """`SCHEMA` rows of the invoices in `history`, each version a fold (`versions.versions_of`)."""
    known = [
        KnownEvent(event_from_history(row), versions.known_on(row["business_date"],
                                                              row["recorded_on"]))
        for row in history.iter_rows(named=True)
    ]  # fmt: skip
    return pl.DataFrame([v.as_row() for v in all_versions(known)], schema=SCHEMA, orient="row")
