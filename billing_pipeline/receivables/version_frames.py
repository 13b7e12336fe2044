"""The versions of invoices whose events became known in the order they fold in, as frames.

`versions.versions_of` refolds an invoice once per date on which one of its events became
known: exact for any history, but Python per event (~26 us a history row, 11 of the 12 s a
1M-payment day's build took). Most invoices' events become known in fold order
(`payments.sequence_events`: occurred_at, then event_id). Then the events known by any date
are the first steps of the fold, and folding them replays the stored history's first steps,
so the invoice known from a date is the history row of the last event known by then: read
here straight off `ledger_store.invoice_history`, set-based. Every other invoice (an event
known before one that folds ahead of it, an id seen twice, a history that does not start
with its creation) goes through `versions_of` (tests/receivables/test_version_frames.py
compares both on random histories).
"""

from __future__ import annotations

import polars as pl

from billing_pipeline.receivables.versions import RECEIVABLE_STATES, VERSION_COLUMNS

_FOLD_ORDER = ["invoice_id", "occurred_at", "event_id"]


def split_in_fold_order(history: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows of invoices whose events became known in fold order, rows of the others).

    `history`: invoice_history rows with `business_date` and `recorded_on` (the date whose
    files delivered the event); an event is known from the later of the two."""
    rows = history.with_columns(known_on=pl.max_horizontal("business_date", "recorded_on")).sort(
        _FOLD_ORDER
    )
    regular = rows.group_by("invoice_id").agg(
        in_fold_order=(
            (pl.col("known_on") >= pl.col("known_on").shift(1)).fill_null(True).all()
            & (pl.col("event_id").n_unique() == pl.len())
            & (pl.col("event_type").first() == "invoice.created")
            & pl.col("from_state").first().is_null()
        )
    )
    rows = rows.join(regular, on="invoice_id", how="left")
    ordered = pl.col("in_fold_order")
    return rows.filter(ordered).drop("in_fold_order"), history.join(
        rows.filter(~ordered).select("invoice_id").unique(), on="invoice_id", how="semi"
    )


def versions_in_fold_order(rows: pl.DataFrame) -> pl.DataFrame:
    """`VERSION_COLUMNS` of the invoices `split_in_fold_order` found regular, by invoice and
    date: the invoice after the last event known by each date, a date that changes nothing
    adding no version (as `versions.versions_of`)."""
    changed_state = pl.col("from_state").is_null() | (pl.col("from_state") != pl.col("to_state"))
    after = (
        rows.sort(_FOLD_ORDER)
        .with_columns(
            state_since=pl.when(changed_state)
            .then(pl.col("occurred_at"))
            .forward_fill()
            .over("invoice_id")
        )
        .group_by("invoice_id", "known_on", maintain_order=True)
        .last()
    )
    versions = after.select(
        "invoice_id",
        known_from="known_on",
        customer_id="customer_id",
        currency="currency",
        amount_minor="amount_minor",
        amount_due_minor=pl.when(pl.col("to_state").is_in(RECEIVABLE_STATES))
        .then(pl.col("amount_due_minor"))
        .otherwise(0),
        state="to_state",
        due_date="due_date",
        paid_minor="paid_minor",
        credited_minor="credited_minor",
        written_off_minor="written_off_minor",
        customer_credit_minor="customer_credit_minor",
        state_since="state_since",
    )
    assert tuple(versions.columns) == VERSION_COLUMNS
    # A version equal to the one before it (all but the invoice and date) is no new version.
    # The rows are grouped by invoice, so the row before is the invoice's previous version
    # unless it is another invoice's: a plain shift, not eleven windows over the invoice
    # (3.5 s against 0.3 s for a 1M-payment day's 414k history rows).
    compared = VERSION_COLUMNS[2:]
    same = pl.all_horizontal(pl.col(c).eq_missing(pl.col(c).shift(1)) for c in compared)
    first = pl.col("invoice_id").ne_missing(pl.col("invoice_id").shift(1))
    return versions.filter(first | ~same)
