"""Each invoice as known from each business date on (see billing_pipeline/receivables/versions.py),
with what the incremental build needs (the mart `invoice_versions` is this without it).

A Python model because a version is a fold of the invoice lifecycle over the events known by
its date, and the fold is the domain's (one state machine, not a second one in SQL). Built
incrementally: only invoices an event reached since the last build are refolded
(billing_pipeline/receivables/version_builds.py).
"""

from billing_pipeline.receivables.version_builds import EVERYTHING, refold_after, versions_relation


def model(dbt, session):
    dbt.config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key="invoice_id",
        on_schema_change="append_new_columns",
    )
    # Read through the session below; named here so dbt knows the lineage.
    dbt.source("ledger_store", "invoice_history")
    dbt.source("store", "events")
    since = refold_after(session, str(dbt.this)) if dbt.is_incremental else EVERYTHING
    return versions_relation(session, since)
