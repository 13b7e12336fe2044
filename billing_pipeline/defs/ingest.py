"""Land the day's files of every inbox source into raw.* tables: one multi-asset, whose
sources land side by side (`warehouse.land_sources`) and can be selected one by one."""

from datetime import UTC, date, datetime

import dagster as dg
from dagster_duckdb import DuckDBResource

from billing_pipeline import settings
from billing_pipeline.defs.partitions import daily_partitions
from billing_pipeline.defs.resources import DUCKDB_POOL
from billing_pipeline.reliability.masking import mask_metadata, mask_text
from billing_pipeline.warehouse.land_sources import SourceLanding, land_sources
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


def _source_specs(source: str) -> list[dg.AssetSpec]:
    return [
        dg.AssetSpec(
            [source, frame],
            group_name="ingest",
            kinds={"duckdb", "polars"},
            description=f"Validated {frame.replace('_', ' ')} from {_DESCRIPTIONS[source]}, "
            f"staged from data/inbox/{source}/<date>/.",
        )
        for frame in SOURCE_FRAMES[source]
    ]


SPECS = {source: _source_specs(source) for source in SOURCE_FRAMES}
# One check per source, on its first frame: a landing stages all of a source's frames at once.
CHECKS = {
    source: dg.AssetCheckSpec(
        "nothing_lost",
        asset=specs[0].key,
        blocking=True,
        description="For every file: rows read = rows staged + rows quarantined, counted in "
        "the tables.",
    )
    for source, specs in SPECS.items()
}


@dg.multi_asset(
    name="ingest",
    specs=[spec for specs in SPECS.values() for spec in specs],
    check_specs=list(CHECKS.values()),
    can_subset=True,
    partitions_def=daily_partitions,
    pool=DUCKDB_POOL,
    retry_policy=INBOX_RETRY,
)
def ingest(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    """Every selected source's files of the date, the sources side by side (`land_sources`);
    a source is landed when any of its frames is selected."""
    partition_date = date.fromisoformat(context.partition_key)
    selected = context.selected_asset_keys
    sources = [s for s, specs in SPECS.items() if any(spec.key in selected for spec in specs)]
    with duckdb.get_connection() as conn:
        landings = land_sources(
            conn,
            settings.inbox_dir(),
            sources,
            partition_date,
            run_id=context.run.run_id,
            now=datetime.now(UTC),
            workers=settings.ingest_workers(),
        )
    for landing in landings:
        if landing.error is None:
            yield from _results(context, landing)
    failed = [landing for landing in landings if landing.error is not None]
    if failed:
        # After the sources that landed have reported. A retry lands every selected source
        # again, which replaces what the attempt staged (`landing`).
        reasons = "; ".join(f"{f.source}: {type(f.error).__name__}: {f.error}" for f in failed)
        raise RuntimeError(mask_text(f"landing failed for {reasons}")) from failed[0].error


def _results(context: dg.AssetExecutionContext, landing: SourceLanding):
    report = landing.report
    for outcome in report.files:
        if outcome.status in ("duplicate", "unreadable"):
            context.log.warning(mask_text(f"{outcome.path}: {outcome.status} ({outcome.detail})"))
    shared = {
        "files": report.count("landed"),
        "duplicate_files": report.count("duplicate"),
        "unreadable_files": report.count("unreadable"),
        "rows_read": report.rows_read,
        "rows_quarantined": report.rows_quarantined,
    }
    for spec in SPECS[landing.source]:
        if spec.key in context.selected_asset_keys:
            yield dg.MaterializeResult(
                asset_key=spec.key,
                metadata={**shared, "dagster/row_count": report.rows_staged},
            )
    check = CHECKS[landing.source]
    if check.key in context.selected_asset_check_keys:
        yield dg.AssetCheckResult(
            check_name=check.name,
            asset_key=check.asset_key,
            passed=not landing.violations,
            metadata={
                "files_checked": len(report.files),
                "violations": mask_metadata(landing.violations[:20]),
            },
        )
