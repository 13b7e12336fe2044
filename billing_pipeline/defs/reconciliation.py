"""Reconciliation as an asset: match, flag, decide; its decisions become ledger events."""

from datetime import UTC, date, datetime

import dagster as dg
from dagster_duckdb import DuckDBResource

from billing_pipeline import settings
from billing_pipeline.defs.ledger import EVENTS
from billing_pipeline.defs.partitions import daily_partitions
from billing_pipeline.defs.resources import DUCKDB_POOL
from billing_pipeline.recon import load_rules, reconcile
from billing_pipeline.reliability.masking import mask_metadata
from billing_pipeline.warehouse.event_store import append_decisions

RECON_TABLES = {
    "matches": "Every match of the three legs with its rule, version and evidence.",
    "discrepancies": "Unmatched or mismatched items with type, age and status.",
    "decisions": "What reconciliation decided, appended to the event store as events.",
}
DISCREPANCIES = dg.AssetKey(["recon_store", "discrepancies"])


@dg.multi_asset(
    name="reconciliation",
    specs=[
        dg.AssetSpec(
            ["recon_store", table],
            deps=[EVENTS],
            group_name="reconciliation",
            kinds={"duckdb"},
            description=description,
        )
        for table, description in RECON_TABLES.items()
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "each_bank_line_used_once",
            asset=["recon_store", "matches"],
            blocking=True,
            description="No bank line is part of two matches of the same run date.",
        )
    ],
    partitions_def=daily_partitions,
    pool=DUCKDB_POOL,
)
def reconciliation(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    as_of = date.fromisoformat(context.partition_key)
    rules = load_rules(settings.recon_rules_path())
    with duckdb.get_connection() as conn:
        report = reconcile(conn, as_of, rules, context.run_id, settings.resolutions_dir())
        appended = append_decisions(conn, as_of, context.run_id, datetime.now(UTC))
        reused = conn.execute(
            "select bank_ref, count(*) from (select unnest(refs) as bank_ref from ("
            "  select left_refs as refs from recon_store.matches where as_of = $d"
            "  and leg = 'bank_invoice' union all select right_refs from recon_store.matches"
            "  where as_of = $d and leg = 'processor_bank')) where bank_ref like 'bank:%'"
            " group by 1 having count(*) > 1",
            {"d": as_of},
        ).fetchall()
    rates = {leg: float(rate) for leg, rate in report.match_rate.items()}
    # Open discrepancies as a table: leg x type x age bucket x currency, count and amount.
    open_rows: dict[tuple, dict] = {}
    for m in report.metrics:
        if m["metric"] in ("open_count", "open_amount_minor"):
            key = (m["leg"], m["type"], m["age_bucket"], m["currency"])
            open_rows.setdefault(key, {})[m["metric"]] = int(m["value"])
    open_table = dg.MetadataValue.md(
        "| leg | type | age (days) | currency | count | amount (minor units) |\n"
        "|---|---|---|---|---|---|\n"
        + "".join(
            f"| {leg} | {kind} | {age} | {ccy} | {v.get('open_count', 0)} "
            f"| {v.get('open_amount_minor', 0)} |\n"
            for (leg, kind, age, ccy), v in sorted(open_rows.items(), key=repr)
        )
    )
    yield dg.MaterializeResult(
        asset_key=["recon_store", "matches"],
        metadata={
            "dagster/row_count": sum(report.matches_by_leg.values()),
            "rules_version": report.rules_version,
            **{f"match_rate/{leg}": rate for leg, rate in rates.items()},
        },
    )
    yield dg.MaterializeResult(
        asset_key=DISCREPANCIES,
        metadata={
            "dagster/row_count": sum(report.open_by_type.values()),
            "open_by_type": report.open_by_type,
            "open_by_type_and_age": open_table,
            "pending_by_type": report.pending_by_type,
            "rejected_resolutions": len(report.rejected_resolutions),
        },
    )
    yield dg.MaterializeResult(
        asset_key=["recon_store", "decisions"],
        metadata={
            "appended_events": appended.appended,
            "unchanged": appended.duplicates,
            "changed_decisions_quarantined": appended.conflicts,
        },
    )
    yield dg.AssetCheckResult(
        check_name="each_bank_line_used_once",
        asset_key=["recon_store", "matches"],
        passed=not reused,
        metadata={"reused_bank_lines": mask_metadata([r[0] for r in reused[:20]])},
    )
