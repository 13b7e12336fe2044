"""Per payment, its realized FX effect split into invoice->capture, capture->settlement and
settlement->bank steps (`billing_pipeline.warehouse.fx_attribution`, which documents the
rules). The part of each result no payment carries (credit notes, bank transfers, fees-only
payouts) is left out here."""

from billing_pipeline.warehouse.fx_attribution import payment_attribution


def model(dbt, session):
    dbt.config(materialized="table", schema="fx")
    # Both read in place through the session (named here so dbt knows the lineage): the
    # journal pulled into Python as a frame took ~10 GiB at 1M payments a day.
    dbt.source("ledger_store", "journal_lines")
    dbt.source("store", "events")
    rows = payment_attribution(session)
    return rows.filter(rows["payment_id"].is_not_null())
