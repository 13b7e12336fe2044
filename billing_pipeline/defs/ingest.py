"""One multi-asset per inbox source: land that day's files into raw.* tables."""

from datetime import UTC, date, datetime

import dagster as dg
from dagster_duckdb import DuckDBResource

from billing_pipeline import settings
from billing_pipeline.defs.partitions import daily_partitions
from billing_pipeline.defs.resources import DUCKDB_POOL
from billing_pipeline.reliability.masking import mask_metadata, mask_text
from billing_pipeline.warehouse.audits import nothing_lost_violations
from billing_pipeline.warehouse.landing import land_partition
from billing_pipeline.warehouse.tables import SOURCE_FRAMES

# Reading the inbox touches a file share that can flake: retry with backoff and jitter.
INBOX_RETRY = dg.RetryPolicy(
    max_retries=3, delay=1.0, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)

_DESCRIPTIONS = {
    "stripe": "Stripe itemized payout reconciliation and payouts reports",
    "adyen": "Adyen settlement details reports",
    "bank": "bank statements (camt.053, MT940, BAI2, CSV; format detected from content)",
    "events": "the billing application's event log (JSON Lines)",
    "rates": "exchange-rate files that override or extend the ECB reference rates",
}


def build_ingest_asset(source: str) -> dg.AssetsDefinition:
    specs = [
        dg.AssetSpec(
            [source, frame],
            group_name="ingest",
            kinds={"duckdb", "polars"},
            description=f"Validated {frame.replace('_', ' ')} from {_DESCRIPTIONS[source]}, "
            f"staged from data/inbox/{source}/<date>/.",
        )
        for frame in SOURCE_FRAMES[source]
    ]
    check = dg.AssetCheckSpec(
        "nothing_lost",
        asset=specs[0].key,
        blocking=True,
        description="For every file: rows read = rows staged + rows quarantined, counted in "
        "the tables.",
    )

    @dg.multi_asset(
        name=f"ingest_{source}",
        specs=specs,
        check_specs=[check],
        partitions_def=daily_partitions,
        pool=DUCKDB_POOL,
        retry_policy=INBOX_RETRY,
    )
    def ingest(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
        partition_date = date.fromisoformat(context.partition_key)
        with duckdb.get_connection() as conn:
            report = land_partition(
                conn,
                settings.inbox_dir(),
                source,
                partition_date,
                run_id=context.run_id,
                now=datetime.now(UTC),
            )
            violations = nothing_lost_violations(conn, source, partition_date)
        for outcome in report.files:
            if outcome.status in ("duplicate", "unreadable"):
                context.log.warning(
                    mask_text(f"{outcome.path}: {outcome.status} ({outcome.detail})")
                )
        shared = {
            "files": report.count("landed"),
            "duplicate_files": report.count("duplicate"),
            "unreadable_files": report.count("unreadable"),
            "rows_read": report.rows_read,
            "rows_quarantined": report.rows_quarantined,
        }
        for spec in specs:
            yield dg.MaterializeResult(
                asset_key=spec.key,
                metadata={**shared, "dagster/row_count": report.rows_staged},
            )
        yield dg.AssetCheckResult(
            check_name="nothing_lost",
            asset_key=specs[0].key,
            passed=not violations,
            metadata={
                "files_checked": len(report.files),
                "violations": mask_metadata(violations[:20]),
            },
        )

    return ingest


ingest_assets = [build_ingest_asset(source) for source in SOURCE_FRAMES]
