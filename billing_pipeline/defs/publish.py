"""Write–audit–publish: the analyst file is written only after every upstream check passed."""

from collections import Counter

import dagster as dg
from dagster_duckdb import DuckDBResource

from billing_pipeline import settings
from billing_pipeline.defs.partitions import daily_partitions
from billing_pipeline.defs.resources import DUCKDB_POOL
from billing_pipeline.defs.transform import dbt_models
from billing_pipeline.warehouse.publish import publish_with_changes


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
        counts, changes = publish_with_changes(conn, settings.analytics_path())
    modes = Counter(change.mode for change in changes.values())
    context.log.info(
        f"published {len(counts)} relations to {settings.analytics_path()} "
        + ", ".join(f"{n} {mode}" for mode, n in sorted(modes.items()))
    )
    return dg.MaterializeResult(
        metadata={
            "path": str(settings.analytics_path()),
            "relations": len(counts),
            "row_counts": counts,
            # How each relation reached the file: copied whole into a new file, rewritten
            # whole, updated (only its changed rows), or unchanged (`publish_changes`).
            "relations_by_write": dict(sorted(modes.items())),
            "rows_deleted": sum(change.deleted for change in changes.values()),
            "rows_inserted": sum(change.inserted for change in changes.values()),
            # Aging and reconciliation funnel of the published file, shown in the UI.
            **chart_metadata(settings.analytics_path(), context.partition_key, context.log),
        }
    )
