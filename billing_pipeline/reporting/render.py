"""The daily report as rich tables on a terminal."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from billing_pipeline.domain.money import MoneyError, format_minor
from billing_pipeline.reporting import queries
from billing_pipeline.reporting.report import DailyReport, build_report, write_charts


def run_report(
    analytics_path: Path,
    warehouse_dir: Path,
    day: date,
    out_dir: Path | None,
    console: Console | None = None,
) -> int:
    """Print the report of `day` (and write its charts to `out_dir`); returns the exit code."""
    console = console or Console(emoji=False, highlight=False)
    report = build_report(analytics_path, warehouse_dir, day, with_charts=out_dir is not None)
    print_report(report, console)
    if out_dir is not None and report.charts:
        for path in write_charts(report, out_dir):
            console.print(f"wrote {path}")
    return report.exit_code


def print_report(report: DailyReport, console: Console) -> None:
    console.rule(f"billing_pipeline report for {report.day}")
    if not report.published:
        console.print(f"[red]no published file at {report.analytics_path}[/red]")
    _print_run(report, console)
    for title, section in report.sections.items():
        if isinstance(section, queries.NotPublished):
            console.print(f"[bold]{title}[/bold]: [yellow]{section}[/yellow]")
            continue
        console.print(_table(title, section))
        if section.note:
            console.print(f"  [yellow]note: {section.note}[/yellow]")


def _print_run(report: DailyReport, console: Console) -> None:
    run = report.run
    if run is None:
        console.print(
            f"[yellow]no run recorded for {report.day}: the published file is whatever the "
            "last successful run left[/yellow]"
        )
        return
    checks = f"{sum(c.passed for c in run.checks)}/{len(run.checks)} checks passed"
    if run.success:
        console.print(f"[green]latest run {run.run_id} succeeded[/green] ({checks})")
        return
    console.print(
        f"[bold red]latest run {run.run_id} FAILED[/bold red] ({checks}); "
        f"failed steps: {', '.join(run.failed_steps) or 'none'}"
    )
    for check in run.failed_checks:
        kind = "blocking" if check.blocking else check.severity.lower()
        console.print(f"  [red]failed check {check.asset}:{check.check} ({kind})[/red]")
    if not run.published:
        console.print("  [red]nothing was published by that run: figures below are older[/red]")


def _table(title: str, section: queries.Section) -> Table:
    heading = (
        f"{title} (functional: {section.functional_currency})"
        if (section.functional_currency)
        else title
    )
    table = Table(title=heading, title_justify="left")
    money_columns = {i for i, c in enumerate(section.columns) if c.endswith("_minor")}
    currency_at = section.columns.index("currency") if "currency" in section.columns else None
    for index, column in enumerate(section.columns):
        name = column.removesuffix("_minor") if index in money_columns else column
        if index in money_columns:
            table.add_column(name, justify="right", no_wrap=True)
        else:
            table.add_column(name, overflow="fold")
    if not section.rows:
        table.add_row(*([Text("(none)")] + [Text("")] * (len(section.columns) - 1)))
    for row in section.rows:
        currency = row[currency_at] if currency_at is not None else None
        cells = []
        for index, value in enumerate(row):
            if index not in money_columns:
                cells.append(_cell(value, None))
            elif section.columns[index].startswith("functional_"):
                cells.append(_cell(value, section.functional_currency))
            else:
                cells.append(_cell(value, currency))
        table.add_row(*cells)
    return table


def _cell(value, currency: str | None) -> Text:
    # Text, not str: values (account paths like assets:bank:x) are never markup or emoji codes.
    if value is None:
        return Text("")
    if currency and isinstance(value, int):
        try:
            return Text(format_minor(value, currency))
        except MoneyError:
            return Text(str(value))
    return Text(str(value))
