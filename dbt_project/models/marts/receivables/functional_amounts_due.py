"""Every amount the aging shows, in the functional currency at its report date's rate.

One row per distinct (as_of_date, currency, amount_due_minor > 0) of `invoice_aging`; the
conversion is `billing_pipeline.receivables.functional` (exact decimal rates, one rounding,
set-based).
"""

import polars as pl

from billing_pipeline import settings
from billing_pipeline.receivables.functional import functional_amount_frame
from billing_pipeline.warehouse.ledger import rate_book


def model(dbt, session):
    dbt.config(materialized="table", schema="receivables")
    [(last,)] = session.execute("select max(partition_date) from store.events").fetchall()
    # Nothing due converts to nothing: only amounts > 0 need a rate.
    # Only the columns the spine needs leave DuckDB: the whole mart as a frame held every
    # version's ids and states in the dbt process as well.
    versions = (
        dbt.ref("invoice_versions")
        .filter("amount_due_minor > 0")
        .project("known_from, valid_to, currency, amount_due_minor")
        .pl()
    )
    # The same date spine as invoice_aging: each version from its date until the next one.
    days = versions.select(
        "currency",
        "amount_due_minor",
        as_of_date=pl.date_ranges(
            "known_from",
            pl.coalesce(pl.col("valid_to").dt.offset_by("-1d"), pl.lit(last)),
        ),
    ).explode("as_of_date")
    triples = days.drop_nulls("as_of_date").select(
        "as_of_date", "currency", amount_minor="amount_due_minor"
    )
    book, _ = rate_book(session)
    return functional_amount_frame(
        triples, book, settings.functional_currency(), settings.rounding_rule()
    )
