"""The one Definitions object of the project: `dagster dev -w workspace.yaml` loads it."""

import dagster as dg

from billing_pipeline.defs.fx import fx_rates
from billing_pipeline.defs.ingest import ingest
from billing_pipeline.defs.ledger import event_store, ledger
from billing_pipeline.defs.publish import analytics
from billing_pipeline.defs.reconciliation import reconciliation
from billing_pipeline.defs.resources import build_resources
from billing_pipeline.defs.schedules import daily_job, daily_schedule
from billing_pipeline.defs.sensors import sensors
from billing_pipeline.defs.transform import dbt_models

defs = dg.Definitions(
    assets=[ingest, event_store, reconciliation, ledger, fx_rates, dbt_models, analytics],
    jobs=[daily_job],
    schedules=[daily_schedule],
    sensors=sensors,
    resources=build_resources(),
)
