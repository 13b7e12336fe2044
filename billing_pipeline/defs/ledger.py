"""The event store and the ledger projection (states, histories, journal) with their audits."""

from datetime import UTC, date, datetime

import dagster as dg
from dagster_duckdb import DuckDBResource

from billing_pipeline import settings
from billing_pipeline.defs.ingest import ingest
from billing_pipeline.defs.partitions import daily_partitions
from billing_pipeline.defs.resources import DUCKDB_POOL
from billing_pipeline.domain.rounding import rounding_rule
from billing_pipeline.reliability.masking import mask_metadata
from billing_pipeline.warehouse import audits
from billing_pipeline.warehouse.chain_verification import full_walk_due, verify_chain
from billing_pipeline.warehouse.event_store import append_partition
from billing_pipeline.warehouse.ledger import journal_rebuilds_identically, rebuild_ledger

EVENTS = dg.AssetKey(["store", "events"])
DECISIONS = dg.AssetKey(["recon_store", "decisions"])
JOURNAL = dg.AssetKey(["ledger_store", "journal_lines"])


@dg.asset(
    key=EVENTS,
    deps=list(ingest.keys),
    partitions_def=daily_partitions,
    pool=DUCKDB_POOL,
    group_name="ledger",
    kinds={"duckdb"},
    description="Append-only event store: every staged fact once per idempotency key, "
    "hash-chained; duplicates counted, conflicting payloads quarantined.",
    check_specs=[
        dg.AssetCheckSpec(
            "hash_chain_verifies",
            asset=EVENTS,
            blocking=True,
            description="Recomputing the payload hashes and chain links appended since the "
            "last verified link (every one on the weekly full walk, on a re-run and when that "
            "link no longer holds) matches what is stored.",
        )
    ],
)
def event_store(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    day, now = date.fromisoformat(context.partition_key), datetime.now(UTC)
    with duckdb.get_connection() as conn:
        report = append_partition(conn, day, settings.business_timezone(), context.run_id, now)
        broken = verify_chain(conn, day, context.run_id, now, full=full_walk_due(conn, now))
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": report.appended,
            "candidates": report.candidates,
            "duplicates": report.duplicates,
            "conflicts_quarantined": report.conflicts,
        }
    )
    yield dg.AssetCheckResult(
        check_name="hash_chain_verifies",
        passed=not broken,
        metadata={"broken": mask_metadata(broken)},
    )


_LEDGER_TABLES = {
    "journal_lines": "One line of one balanced journal entry, with functional amounts.",
    "payment_states": "Each payment's current lifecycle state and amounts.",
    "payment_history": "Every accepted payment state transition.",
    "invoice_states": "Each invoice's current state and amounts.",
    "invoice_history": "Every accepted invoice state transition.",
}
_LEDGER_CHECKS = {
    "entries_balance": "Every entry balances per currency and in the functional currency.",
    "trial_balance_nets_to_zero": "All lines net to zero per currency and in functional.",
    "no_orphan_lines": "Every journal line traces to an event in the store.",
    "payouts_net_to_zero": "Processor clearing of every booked payout nets to zero per "
    "currency, unless reconciliation reports a discrepancy on it.",
    "journal_rebuilds_identically": "Rebuilding from the event store gives the same journal "
    "(whole after a full rebuild, a rotating sample of aggregates after an incremental run).",
}


@dg.multi_asset(
    name="ledger",
    specs=[
        dg.AssetSpec(
            ["ledger_store", table],
            # Reconciliation's decisions are events too: the ledger folds them in.
            deps=[EVENTS, DECISIONS],
            group_name="ledger",
            kinds={"duckdb", "polars"},
            description=description,
        )
        for table, description in _LEDGER_TABLES.items()
    ],
    check_specs=[
        dg.AssetCheckSpec(name, asset=JOURNAL, blocking=True, description=description)
        for name, description in _LEDGER_CHECKS.items()
    ],
    partitions_def=daily_partitions,
    pool=DUCKDB_POOL,
)
def ledger(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    functional = settings.functional_currency()
    rule = rounding_rule(settings.rounding_rule())
    with duckdb.get_connection() as conn:
        report = rebuild_ledger(conn, functional, rule, context.run_id, datetime.now(UTC))
        results = {
            "entries_balance": audits.unbalanced_entries(conn),
            "trial_balance_nets_to_zero": audits.trial_balance_offsets(conn),
            "no_orphan_lines": audits.orphan_lines(conn),
            "payouts_net_to_zero": audits.payouts_not_netting(conn),
        }
        rebuilt_ok = journal_rebuilds_identically(conn, functional, rule)
    counts = {
        "journal_lines": report.lines,
        "payment_states": report.payments,
        "invoice_states": report.invoices,
    }
    for table in _LEDGER_TABLES:
        metadata = {
            "rejected_events": report.rejected_events,
            "unposted_facts": report.unposted_facts,
            # incremental, or full with the reason (no build state, rules or used rates changed)
            "build": report.mode if report.mode == "incremental" else f"full: {report.reason}",
        }
        if table in counts:
            metadata["dagster/row_count"] = counts[table]
        yield dg.MaterializeResult(asset_key=["ledger_store", table], metadata=metadata)
    for name, violations in results.items():
        yield dg.AssetCheckResult(
            check_name=name,
            asset_key=JOURNAL,
            passed=not violations,
            metadata={"violations": mask_metadata(violations[:20])},
        )
    yield dg.AssetCheckResult(
        check_name="journal_rebuilds_identically", asset_key=JOURNAL, passed=rebuilt_ok
    )
