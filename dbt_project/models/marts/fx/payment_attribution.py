"""Per payment, its realized FX effect split into invoice->capture, capture->settlement and
settlement->bank steps (`billing_pipeline.warehouse.fx_attribution`, which documents the
rules). The part of each result no payment carries (credit notes, bank transfers, fees-only
payouts) is left out here."""

from billing_pipeline.warehouse.fx_attribution import payment_attribution


def model(dbt, session):
    dbt.config(materialized="table", schema="fx")
    lines = dbt.source("ledger_store", "journal_lines").pl()
    dbt.source("store", "events")  # read by the attribution through the session
    rows = payment_attribution(session, lines)
    return rows.filter(rows["payment_id"].is_not_null())
