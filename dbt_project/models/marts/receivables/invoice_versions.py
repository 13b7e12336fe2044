"""Each invoice as known from each business date on (see billing_pipeline/receivables/versions.py).

A Python model because a version is a fold of the invoice lifecycle over the events known by
its date, and the fold is the domain's (one state machine, not a second one in SQL).
"""

import polars as pl

from billing_pipeline.receivables.versions import (
    VERSION_COLUMNS,
    KnownEvent,
    all_versions,
    event_from_history,
    known_on,
)

SCHEMA = {
    "invoice_id": pl.Utf8, "known_from": pl.Date, "customer_id": pl.Utf8, "currency": pl.Utf8,
    "amount_minor": pl.Int64, "amount_due_minor": pl.Int64, "state": pl.Utf8,
    "due_date": pl.Date, "paid_minor": pl.Int64, "credited_minor": pl.Int64,
    "written_off_minor": pl.Int64, "customer_credit_minor": pl.Int64,
    "state_since": pl.Datetime("us", "UTC"),
}  # fmt: skip


def model(dbt, session):
    dbt.config(materialized="table", schema="receivables")
    history = dbt.source("ledger_store", "invoice_history").pl()
    events = (
        dbt.source("store", "events")
        .project("idempotency_key as event_id, business_date, partition_date as recorded_on")
        .pl()
    )
    rows = history.join(events, on="event_id", how="left").iter_rows(named=True)
    known = [
        KnownEvent(event_from_history(row), known_on(row["business_date"], row["recorded_on"]))
        for row in rows
    ]
    versions = pl.DataFrame(
        [v.as_row() for v in all_versions(known)],
        schema=dict(zip(VERSION_COLUMNS, SCHEMA.values(), strict=True)),
        orient="row",
    )
    # A version holds until the invoice's next one (exclusive); the last one for ever (null).
    return versions.with_columns(
        valid_to=pl.col("known_from").shift(-1).over("invoice_id", order_by="known_from"),
        previous_state=pl.col("state").shift(1).over("invoice_id", order_by="known_from"),
    )
