"""`billing-pipeline`: generate sample data, run business dates, report, resolve."""

from __future__ import annotations

import os
import sys
from datetime import date, timedelta
from pathlib import Path

import click

# Paths are settled before the Dagster definitions are imported, because the DuckDB resource
# and the dbt profile read them once, at import.
_path_options = [
    click.option(
        "--inbox",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="BILLING_INBOX",
        default="data/inbox",
        show_default=True,
        help="Landed files: <inbox>/<source>/<YYYY-MM-DD>/<file>.",
    ),
    click.option(
        "--warehouse",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="BILLING_WAREHOUSE",
        default="data/warehouse",
        show_default=True,
        help="Where billing.duckdb and analytics.duckdb live.",
    ),
]


def with_paths(func):
    for option in reversed(_path_options):
        func = option(func)
    return func


def _pin_paths(inbox: Path, warehouse: Path) -> None:
    os.environ["BILLING_INBOX"] = str(inbox.resolve())
    os.environ["BILLING_WAREHOUSE"] = str(warehouse.resolve())
    warehouse.mkdir(parents=True, exist_ok=True)


def _dates(start: date, end: date) -> list[date]:
    if end < start:
        raise click.BadParameter(f"--to {end} is before --from {start}")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


_iso_date = click.DateTime(formats=["%Y-%m-%d"])


@click.group()
def main() -> None:
    """Reconciliation and ledger analytics for companies that take payments."""


@main.command()
@click.option("--from", "start", type=_iso_date, required=True)
@click.option("--to", "end", type=_iso_date, required=True)
@click.option("--payments-per-day", type=click.IntRange(1), default=400, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option(
    "--truth",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where ground truth goes (default: beside the inbox, <inbox>/../truth).",
)
@with_paths
def generate(start, end, payments_per_day, seed, truth, inbox, warehouse) -> None:
    """Write a consistent sample world of every source file into the inbox, with its truth."""
    from billing_pipeline.sample import generate_world

    summary = generate_world(
        inbox=inbox,
        truth_dir=truth or inbox.parent / "truth",
        start=start.date(),
        end=end.date(),
        payments_per_day=payments_per_day,
        seed=seed,
        progress=sys.stderr.isatty(),
    )
    click.echo(str(summary))


@main.command()
@click.option("--from", "start", type=_iso_date, required=True)
@click.option("--to", "end", type=_iso_date, required=True)
@with_paths
def run(start, end, inbox, warehouse) -> None:
    """Materialize every asset for the business dates FROM..TO, then publish."""
    _pin_paths(inbox, warehouse)
    from billing_pipeline.runner import run_business_dates

    ok = run_business_dates(_dates(start.date(), end.date()))
    sys.exit(0 if ok else 1)


@main.command()
@with_paths
def demo(inbox, warehouse) -> None:
    """Generate the small default world if the inbox is empty, run it, print a summary."""
    _pin_paths(inbox, warehouse)
    from billing_pipeline.runner import run_business_dates, summary_lines
    from billing_pipeline.sample import DEFAULT_WORLD, generate_world

    world = DEFAULT_WORLD
    if not any(inbox.glob("*/*/*")):
        click.echo(f"generating the default sample world into {inbox} ...")
        generate_world(
            inbox=inbox,
            truth_dir=inbox.parent / "truth",
            start=world.start,
            end=world.end,
            payments_per_day=world.payments_per_day,
            seed=world.seed,
        )
    ok = run_business_dates(_dates(world.start, world.end))
    for line in summary_lines():
        click.echo(line)
    sys.exit(0 if ok else 1)


@main.command()
@click.option("--date", "report_date", type=_iso_date, required=True)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also write the date's charts (aging, reconciliation funnel) as PNG files here.",
)
@with_paths
def report(report_date, out, inbox, warehouse) -> None:
    """Terminal summary of a business date from the published file.

    Exit code 1 when the date's latest run failed a blocking check, 2 when nothing is published.
    """
    from billing_pipeline.reporting.render import run_report

    warehouse = warehouse.resolve()
    analytics = warehouse / "analytics.duckdb"
    sys.exit(run_report(analytics, warehouse, report_date.date(), out))


@main.command()
@click.option(
    "--file",
    "resolution_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="A resolutions file (CSV or YAML) to add to the resolutions folder first.",
)
@click.option("--date", "as_of", type=_iso_date, default=None, help="Default: latest date run.")
@with_paths
def resolve(resolution_file, as_of, inbox, warehouse) -> None:
    """Apply the controllers' resolutions (accept, write_off, manual_match) and republish.

    Resolution files live in the resolutions folder (BILLING_RESOLUTIONS, default
    data/resolutions/) and are applied by every run; this re-runs the latest business date so
    that write-offs are posted and the published file shows the new statuses at once.
    """
    _pin_paths(inbox, warehouse)
    from billing_pipeline import settings
    from billing_pipeline.runner import (
        latest_business_date,
        resolution_outcomes,
        run_business_dates,
    )

    if resolution_file is not None:
        _add_resolution_file(resolution_file, settings.resolutions_dir())
    day = as_of.date() if as_of else latest_business_date()
    if day is None:
        raise click.ClickException("nothing has been run yet: run a business date first")
    ok = run_business_dates([day])
    applied, rejected = resolution_outcomes(day)
    click.echo(f"{day}: {len(applied)} resolution line(s) applied, {len(rejected)} rejected")
    for line in rejected:
        click.echo(f"  rejected {line}", err=True)
    sys.exit(0 if ok and not rejected else 1)


def _add_resolution_file(source: Path, folder: Path) -> None:
    from billing_pipeline.recon.resolutions import read_resolutions

    if source.suffix.lower() not in (".csv", ".yml", ".yaml"):
        raise click.ClickException(f"{source.name}: resolutions are .csv, .yml or .yaml files")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.name
    if target.exists() and target.read_bytes() != source.read_bytes():
        raise click.ClickException(
            f"{target} exists with other content: resolutions are an audit trail, add a new file"
        )
    staging = folder / f".{source.name}.checking"
    staging.mkdir(exist_ok=True)
    try:
        (staging / source.name).write_bytes(source.read_bytes())
        problems = [r for r in read_resolutions(staging) if r.problem]
    finally:
        for child in staging.iterdir():
            child.unlink()
        staging.rmdir()
    for r in problems:
        click.echo(f"  {source.name}:{r.line}: {r.problem}", err=True)
    target.write_bytes(source.read_bytes())


@main.command("recon-diff")
@click.option("--rules-a", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--rules-b", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--date", "as_of", type=_iso_date, default=None, help="Default: latest date run.")
@with_paths
def recon_diff(rules_a, rules_b, as_of, inbox, warehouse) -> None:
    """Run two rule versions on the same business date; list the matches and discrepancies
    that differ. Nothing is written: try a rule change before deploying it."""
    _pin_paths(inbox, warehouse)
    import duckdb

    from billing_pipeline import settings
    from billing_pipeline.recon import diff_rule_versions, load_rules
    from billing_pipeline.runner import latest_business_date
    from billing_pipeline.warehouse.tables import use_utc

    day = as_of.date() if as_of else latest_business_date()
    if day is None:
        raise click.ClickException("nothing has been run yet: run a business date first")
    first = load_rules(rules_a or settings.recon_rules_path())
    second = load_rules(rules_b or settings.recon_rules_path())
    # Work on a copy: reconciliation builds temp tables, the warehouse stays untouched.
    conn = duckdb.connect()
    use_utc(conn)
    quoted = str(settings.warehouse_path()).replace("'", "''")  # ATTACH takes no parameters
    conn.execute(f"attach '{quoted}' as wh (read_only)")
    for schema in ("store", "recon_store"):
        conn.execute(f"create schema {schema}")
        for (table,) in conn.execute(
            # Tables only: views (recon_store.matches) are recreated over the copies.
            "select table_name from information_schema.tables "
            "where table_catalog = 'wh' and table_schema = ? and table_type = 'BASE TABLE'",
            [schema],
        ).fetchall():
            conn.execute(f"create table {schema}.{table} as select * from wh.{schema}.{table}")
    result = diff_rule_versions(conn, day, first, second)
    click.echo(f"{day}: rules {first.version} vs {second.version}")
    for title, rows in (
        ("matches only with A", result.only_in_a_matches),
        ("matches only with B", result.only_in_b_matches),
        ("discrepancies only with A", result.only_in_a_discrepancies),
        ("discrepancies only with B", result.only_in_b_discrepancies),
    ):
        click.echo(f"{title}: {len(rows)}")
        for row in rows[:20]:
            click.echo(f"  {row}")
    sys.exit(0 if result.identical else 3)


@main.command()
@click.option("--from", "start", type=_iso_date, required=True)
@click.option("--to", "end", type=_iso_date, required=True)
@with_paths
def redrive(start, end, inbox, warehouse) -> None:
    """Re-ingest the business dates FROM..TO that have quarantined rows (after a fix).

    Quarantine is the dead-letter queue: once a parser is fixed or a corrected file is
    delivered, re-driving re-runs those dates; rows that now pass leave the quarantine."""
    _pin_paths(inbox, warehouse)
    from billing_pipeline.runner import quarantined_by_date, run_business_dates

    before = quarantined_by_date(start.date(), end.date())
    if not before:
        click.echo("nothing quarantined in that range")
        return
    ok = run_business_dates(sorted(before))
    after = quarantined_by_date(start.date(), end.date())
    for day in sorted(before):
        click.echo(f"{day}: {before[day]} quarantined before, {after.get(day, 0)} after")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
