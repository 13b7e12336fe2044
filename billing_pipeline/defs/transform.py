"""The dbt project as assets: staging -> intermediate -> marts; dbt tests become asset checks."""

import json

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from billing_pipeline.defs.partitions import daily_partitions
from billing_pipeline.defs.resources import DUCKDB_POOL, dbt_project


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    partitions_def=daily_partitions,
    # Like every other asset, one business date per run: partitions stay independent.
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=1),
    pool=DUCKDB_POOL,
)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    # Marts are "as of" the partition's business date.
    dbt_vars = {"as_of_date": context.partition_key}
    yield from dbt.cli(["build", "--vars", json.dumps(dbt_vars)], context=context).stream()
