"""`billing-pipeline report --date D`: a business date's summary from the published file.

Everything shown comes from `analytics.duckdb` (opened read-only, so a run publishing at the
same time never blocks it), except whether the date's latest run passed its checks: a run
whose blocking check failed publishes nothing, so that comes from the run log beside the
warehouse (reporting/run_log.py).

Exit codes: 0 the date's latest run passed; 1 it failed (a blocking check, or a step);
2 there is no published file to report from. A date with no run record reports exit 0
with a warning: the published file is whatever the last successful run left.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from billing_pipeline.reporting import queries
from billing_pipeline.reporting.run_log import RunRecord, read_run_record

EXIT_OK, EXIT_CHECKS_FAILED, EXIT_NOTHING_PUBLISHED = 0, 1, 2

SECTIONS = {
    "Match rate per leg": queries.match_rates,
    "Open discrepancies by type and age": queries.open_discrepancies,
    "Invoice aging": queries.invoice_aging,
    "Cash and clearing balances": queries.cash_and_clearing,
    "FX exposure": queries.fx_exposure,
}


@dataclass
class DailyReport:
    day: date
    analytics_path: Path
    published: bool
    run: RunRecord | None = None
    sections: dict[str, queries.Section | queries.NotPublished] = field(default_factory=dict)
    charts: dict[str, bytes] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        if not self.published:
            return EXIT_NOTHING_PUBLISHED
        if self.run is not None and not self.run.success:
            return EXIT_CHECKS_FAILED
        return EXIT_OK


def build_report(
    analytics_path: Path, warehouse_dir: Path, day: date, with_charts: bool = False
) -> DailyReport:
    report = DailyReport(day, analytics_path, analytics_path.exists())
    report.run = read_run_record(warehouse_dir, day)
    if not report.published:
        return report
    with duckdb.connect(str(analytics_path), read_only=True) as conn:
        conn.execute("set TimeZone = 'UTC'")
        report.sections = {title: section(conn, day) for title, section in SECTIONS.items()}
        if with_charts:
            from billing_pipeline.reporting.charts import render_charts

            report.charts = render_charts(conn, day)
    return report


def write_charts(report: DailyReport, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, png in report.charts.items():
        path = out_dir / f"{report.day.isoformat()}_{name}"
        path.write_bytes(png)
        written.append(path)
    return written
