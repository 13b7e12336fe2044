"""The dbt project as assets: staging -> intermediate -> marts; dbt tests become asset checks."""

from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from billing_pipeline import settings
from billing_pipeline.defs.partitions import daily_partitions
from billing_pipeline.defs.resources import DUCKDB_POOL, dbt_project


def dbt_target_path() -> Path:
    """dbt's target folder for this warehouse, kept between runs.

    dbt re-parses the whole project (~6 s) unless the target folder holds the partial-parse
    state of an earlier invocation with the same profile and vars. dagster-dbt's default is a
    fresh folder per invocation; one folder beside the warehouse keeps the state valid (the
    profile embeds the warehouse path), and the run lock keeps invocations from overlapping.
    """
    return settings.warehouse_dir() / "dbt_target"


# No dbt.log: dbt writes every event of the run to it at debug level (each SQL statement as
# JSON), ~0.5 s CPU a run, paid in full by a small day. The info-level lines still reach the
# step's stdout (dagster-dbt re-emits them: the run's compute log), and run_results.json keeps
# each node's status, timing, message and compiled SQL.
BUILD_ARGS = ["build", "--log-level-file", "none"]


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    partitions_def=daily_partitions,
    # Like every other asset, one business date per run: partitions stay independent.
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=1),
    pool=DUCKDB_POOL,
)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    # The marts are projections of everything recorded up to the run (their "as of" dates
    # come from the data), so the invocation takes no --vars: changing vars would force a
    # full re-parse on every run.
    settings.dbt_threads()  # a bad setting fails here, named, not deep inside dbt
    yield from dbt.cli(BUILD_ARGS, context=context, target_path=dbt_target_path()).stream()
