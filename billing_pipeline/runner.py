"""Run business dates through the Dagster job in this process (the CLI's `run` and `demo`)."""

from __future__ import annotations

import os
from datetime import date

import click
import dagster as dg
import duckdb
from rich.progress import Progress

from billing_pipeline import settings
from billing_pipeline.reliability.run_lock import WarehouseBusy, hold_run_lock
from billing_pipeline.reporting.run_log import record_in_process_result


def _instance() -> dg.DagsterInstance:
    # A persistent instance when DAGSTER_HOME is set (runs show in the UI), else ephemeral.
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


# Step-level detail stays in the run's event log (the UI); the terminal gets warnings only.
_QUIET = {
    "loggers": {"console": {"config": {"log_level": os.environ.get("BILLING_LOG", "WARNING")}}}
}


def run_business_dates(days: list[date]) -> bool:
    """Materialize every asset for each date, oldest first. True when every run succeeded.

    One run at a time per warehouse: a second one fails at once with a clear message
    (`click.ClickException`, exit code 1) instead of meeting DuckDB's file lock mid-run."""
    try:
        with hold_run_lock(settings.warehouse_dir(), f"run of {_span(days)}"):
            return _run_locked(days)
    except WarehouseBusy as busy:
        raise click.ClickException(str(busy)) from None


def _intake_keys(defs: dg.Definitions) -> list[dg.AssetKey]:
    """What each business date needs on its own: its files landed, stored and reconciled."""
    from billing_pipeline.defs.ledger import EVENTS

    keys = []
    for node in defs.resolve_asset_graph().asset_nodes:
        first = node.key.path[0]
        intake = first in ("stripe", "adyen", "bank", "events", "rates", "recon_store")
        if node.is_materializable and (intake or node.key == EVENTS):
            keys.append(node.key)
    return sorted(keys, key=lambda k: k.to_user_string())


def plan_runs(
    defs: dg.Definitions, days: list[date]
) -> list[tuple[date, list[dg.AssetKey] | None]]:
    """Each date of a range with the assets its run materializes (None: all of them).

    The ledger, the marts and the published file are projections of everything recorded so
    far: in a range, building them for each earlier date would compute tables the next date
    replaces. Earlier dates take in their files and reconcile; the last date builds, audits
    and publishes it all (one date alone: everything)."""
    intake = _intake_keys(defs)
    return [(day, None if day == days[-1] else intake) for day in days]


def _span(days: list[date]) -> str:
    return f"{days[0]}..{days[-1]}" if days else "no dates"


def _run_locked(days: list[date]) -> bool:
    from billing_pipeline.definitions import defs

    job = defs.resolve_job_def("daily_job")
    instance = _instance()
    all_ok = True
    with Progress(transient=False) as progress:
        task = progress.add_task("business dates", total=len(days))
        for day, selection in plan_runs(defs, days):
            result = job.execute_in_process(
                partition_key=day.isoformat(),
                instance=instance,
                raise_on_error=False,
                run_config=_QUIET,
                asset_selection=selection,
            )
            # Check outcomes go to <warehouse>/run_log/<date>.json, where `report` reads them.
            record = record_in_process_result(result, day.isoformat(), settings.warehouse_dir())
            if not result.success:
                all_ok = False
                checks = [f"{c.asset}:{c.check}" for c in record.failed_checks]
                progress.console.print(
                    f"[red]{day}: run failed at {record.failed_steps}; failed checks: "
                    f"{checks or 'none'}; nothing published[/red]"
                )
            progress.advance(task)
    return all_ok


def summary_lines() -> list[str]:
    """A short account of what the published file holds."""
    path = settings.analytics_path()
    if not path.exists():
        return [f"no published file at {path}"]
    with duckdb.connect(str(path), read_only=True) as conn:
        files = conn.execute(
            "select source, count(*) filter (status = 'landed'), "
            "count(*) filter (status = 'duplicate'), count(*) filter (status = 'unreadable'), "
            "sum(rows_read), sum(rows_staged), sum(rows_quarantined) "
            "from ops.file_registry group by source order by source"
        ).fetchall()
    lines = [f"published {path}", "source   files  dup  bad  rows_read  staged  quarantined"]
    for source, landed, dup, bad, read, staged, quarantined in files:
        lines.append(
            f"{source:<8} {landed:>5} {dup:>4} {bad:>4} {read or 0:>10} {staged or 0:>7} "
            f"{quarantined or 0:>12}"
        )
    return lines


def _warehouse_reader() -> duckdb.DuckDBPyConnection | None:
    path = settings.warehouse_path()
    return duckdb.connect(str(path), read_only=True) if path.exists() else None


def latest_business_date() -> date | None:
    conn = _warehouse_reader()
    if conn is None:
        return None
    with conn:
        row = conn.execute("select max(partition_date) from ingest.file_registry").fetchone()
    return row[0] if row else None


def quarantined_by_date(start: date, end: date) -> dict[date, int]:
    """Rows in the dead-letter queue from parsing or validation, per business date."""
    conn = _warehouse_reader()
    if conn is None:
        return {}
    with conn:
        rows = conn.execute(
            "select partition_date, count(*) from ingest.quarantine "
            "where stage in ('parse', 'validate') and partition_date between ? and ? "
            "group by 1",
            [start, end],
        ).fetchall()
    return dict(rows)


def resolution_outcomes(as_of: date) -> tuple[list[str], list[str]]:
    conn = _warehouse_reader()
    if conn is None:
        return [], []
    with conn:
        rows = conn.execute(
            "select file || ':' || line, outcome, coalesce(reason, '') "
            "from recon_store.resolutions_log where as_of = ? order by file, line",
            [as_of],
        ).fetchall()
    applied = [where for where, outcome, _ in rows if outcome == "applied"]
    rejected = [f"{where}: {reason}" for where, outcome, reason in rows if outcome != "applied"]
    return applied, rejected
