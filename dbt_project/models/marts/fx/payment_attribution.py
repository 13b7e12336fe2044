"""Per payment, its realized FX effect split into invoice->capture, capture->settlement and
settlement->bank steps (`billing_pipeline.warehouse.fx_attribution`, which documents the
rules). The part of each result no payment carries (credit notes, bank transfers, fees-only
payouts) is left out here."""

from billing_pipeline.warehouse.fx_attribution import attribution_sql


def model(dbt, session):
    dbt.config(materialized="table", schema="fx")
    # Both read in place through the session (named here so dbt knows the lineage): the
    # journal pulled into Python as a frame took ~10 GiB at 1M payments a day. The rows are
    # returned as a relation, so dbt writes them without a trip through Python either.
    dbt.source("ledger_store", "journal_lines")
    dbt.source("store", "events")
    # Unordered: readers sort; the frame API (`payment_attribution`) keeps the order.
    return session.sql(attribution_sql(session, ordered=False)).filter("payment_id is not null")
