"""Write–audit–publish: the analyst file is written only after every upstream check passed."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from billing_pipeline import settings
from billing_pipeline.defs.partitions import daily_partitions
from billing_pipeline.defs.resources import DUCKDB_POOL
from billing_pipeline.defs.transform import dbt_models
from billing_pipeline.warehouse.publish import publish


@dg.asset(
    key=["analytics"],
    deps=[dbt_models],
    partitions_def=daily_partitions,
    pool=DUCKDB_POOL,
    group_name="publish",
    kinds={"duckdb"},
    description="data/warehouse/analytics.duckdb: the published relations, swapped in atomically.",
)
def analytics(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    # Imported here: matplotlib takes ~0.7 s to import, and every step's process loads these
    # definitions (Dagster's multiprocess executor starts one per step), as the code server does.
    from billing_pipeline.reporting.charts import chart_metadata

    with duckdb.get_connection() as conn:
        counts = publish(conn, settings.analytics_path())
    context.log.info(f"published {len(counts)} relations to {settings.analytics_path()}")
    return dg.MaterializeResult(
        metadata={
            "path": str(settings.analytics_path()),
            "relations": len(counts),
            "row_counts": counts,
            # Aging and reconciliation funnel of the published file, shown in the UI.
            **chart_metadata(settings.analytics_path(), context.partition_key, context.log),
        }
    )
