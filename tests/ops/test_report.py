"""`billing-pipeline report`: figures from the published file, honest about what is missing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from billing_pipeline.cli import main
from billing_pipeline.reporting import queries
from billing_pipeline.reporting.charts import aging_data, chart_metadata, render_charts
from billing_pipeline.reporting.report import build_report
from billing_pipeline.reporting.run_log import (
    CheckOutcome,
    RunRecord,
    read_run_record,
    write_run_record,
)

DAY = date(2026, 10, 7)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _publish_minimal(path: Path) -> None:
    """A published file with the recon and ledger relations only (no receivables, no fx)."""
    with duckdb.connect(str(path)) as conn:
        conn.execute("create schema recon; create schema ledger")
        conn.execute(
            "create table recon.matches as select * from (values "
            "('m1', 'ledger_processor', date '2026-10-07'), "
            "('m2', 'ledger_processor', date '2026-10-07'), "
            "('m3', 'ledger_processor', date '2026-10-07'), "
            "('m4', 'processor_bank', date '2026-10-07')) t(match_id, leg, as_of)"
        )
        conn.execute(
            "create table recon.discrepancies as select * from (values "
            "('d1', 'ledger_processor', 'missing_in_processor', 'pending', 0, 1000, 'USD'), "
            "('d2', 'ledger_processor', 'amount_mismatch', 'open', 2, -25, 'USD'), "
            "('d3', 'processor_bank', 'missing_in_bank', 'open', 5, 7659, 'JPY'), "
            "('d4', 'processor_bank', 'missing_in_bank', 'open', 40, 3238, 'KWD'), "
            "('d5', 'processor_bank', 'missing_in_bank', 'resolved', 9, 1, 'USD'), "
            "('d6', 'bank_invoice', 'missing_in_ledger', 'open', 2, 500, 'USD')"
            ") t(discrepancy_id, leg, type, status, age_days, amount_minor, currency)"
        )
        conn.execute("alter table recon.discrepancies add column as_of date default '2026-10-07'")
        conn.execute(
            "create table ledger.account_balances_daily as select * from (values "
            "(date '2026-10-05', 'assets:processor_clearing:stripe', 'USD', 100, 100), "
            "(date '2026-10-07', 'assets:processor_clearing:stripe', 'USD', 250, 250), "
            "(date '2026-10-08', 'assets:processor_clearing:stripe', 'USD', 999, 999), "
            "(date '2026-10-06', 'assets:bank:gb29', 'GBP', 12345, 16390), "
            "(date '2026-10-07', 'income:revenue', 'USD', -500, -500)"
            ") t(as_of_date, account, currency, balance_minor, functional_balance_minor)"
        )
        conn.execute(
            "create table ledger.journal_lines as select 'USD' as functional_currency, "
            "'e1' as entry_id"
        )


@pytest.fixture
def published(tmp_path: Path) -> Path:
    path = tmp_path / "analytics.duckdb"
    _publish_minimal(path)
    return path


def _connect(path: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(path), read_only=True)


def test_match_rate_counts_matches_against_pending_and_open_items(published):
    with _connect(published) as conn:
        section = queries.match_rates(conn, DAY)
    assert section.rows == [
        ("bank_invoice", 0, 0, 1, "0.0%"),
        ("ledger_processor", 3, 1, 1, "60.0%"),
        ("processor_bank", 1, 0, 2, "33.3%"),
    ]
    assert section.note == ""


def test_open_discrepancies_are_grouped_by_type_and_recon_age_bucket(published):
    with _connect(published) as conn:
        section = queries.open_discrepancies(conn, DAY)
    # d1 is pending and d5 resolved: neither is open.
    assert section.rows == [
        ("amount_mismatch", "1-3", "USD", 1, -25),
        ("missing_in_bank", "4-7", "JPY", 1, 7659),
        ("missing_in_bank", "30+", "KWD", 1, 3238),
        ("missing_in_ledger", "1-3", "USD", 1, 500),
    ]


def test_an_older_report_date_says_the_reconciliation_is_of_a_later_date(published):
    with _connect(published) as conn:
        section = queries.match_rates(conn, date(2026, 10, 6))
    assert "as of 2026-10-07" in section.note


def test_cash_and_clearing_takes_each_accounts_last_balance_on_or_before_the_date(published):
    with _connect(published) as conn:
        section = queries.cash_and_clearing(conn, DAY)
    assert section.rows == [
        ("assets:bank:gb29", "GBP", 12345, 16390),
        ("assets:processor_clearing:stripe", "USD", 250, 250),
    ]
    assert section.functional_currency == "USD"


def test_relations_not_published_yet_are_named_not_fatal(published):
    with _connect(published) as conn:
        aging = queries.invoice_aging(conn, DAY)
        exposure = queries.fx_exposure(conn, DAY)
    assert str(aging) == "not published yet (receivables.invoice_aging)"
    assert str(exposure) == "not published yet (fx.exposure)"


def test_fx_exposure_with_another_shape_is_reported_missing_not_crashed(published):
    with duckdb.connect(str(published)) as conn:
        conn.execute("create schema fx")
        conn.execute("create table fx.exposure as select 'EUR' as currency, 5 as amount")
    with _connect(published) as conn:
        exposure = queries.fx_exposure(conn, DAY)
    assert isinstance(exposure, queries.NotPublished)
    assert "open_amount_minor" in str(exposure)


def test_invoice_aging_sums_amount_due_per_bucket_and_currency_on_the_date(published):
    with duckdb.connect(str(published)) as conn:
        conn.execute("create schema receivables")
        conn.execute(
            "create table receivables.invoice_aging as select * from (values "
            "(date '2026-10-07', 'i1', 'USD', 1000, 2000, 'USD', '1-30'), "
            "(date '2026-10-07', 'i2', 'USD', 500, 500, 'USD', '1-30'), "
            "(date '2026-10-07', 'i3', 'EUR', 300, 330, 'USD', 'current'), "
            "(date '2026-10-07', 'i4', 'EUR', 0, 0, 'USD', 'current'), "
            "(date '2026-10-06', 'i1', 'USD', 1000, 1000, 'USD', 'current')"
            ") t(as_of_date, invoice_id, currency, amount_due_minor, "
            "functional_amount_due_minor, functional_currency, bucket)"
        )
    with _connect(published) as conn:
        section = queries.invoice_aging(conn, DAY)
        chart = aging_data(conn, DAY)
    assert section.rows == [("current", "EUR", 1, 300), ("1-30", "USD", 2, 1500)]
    assert chart.labels == ["current", "1-30", "31-60", "61-90", "90+"]
    assert chart.values == [330, 2500, 0, 0, 0]
    assert chart.unit == "USD (minor units)"
    assert chart.currency == "USD"


def test_without_receivables_the_aging_chart_shows_open_discrepancies_by_age(published):
    with _connect(published) as conn:
        chart = aging_data(conn, DAY)
    assert chart.values == [0, 2, 1, 0, 1]
    assert "not published yet" in chart.title


def test_charts_are_png_and_the_same_data_gives_the_same_bytes(published):
    with _connect(published) as conn:
        first = render_charts(conn, DAY)
        second = render_charts(conn, DAY)
    assert set(first) == {"aging.png", "recon_funnel.png"}
    assert all(png.startswith(PNG_SIGNATURE) for png in first.values())
    assert first == second


class _Log:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, message: str) -> None:
        self.warnings.append(message)


def test_chart_metadata_embeds_base64_pngs_and_never_raises(published, tmp_path):
    log = _Log()
    metadata = chart_metadata(published, DAY.isoformat(), log)
    assert set(metadata) == {"chart/aging", "chart/recon_funnel"}
    assert "data:image/png;base64," in metadata["chart/aging"].value
    assert chart_metadata(tmp_path / "missing.duckdb", DAY.isoformat(), log) == {}
    assert log.warnings


def _report(warehouse: Path, *args: str):
    return CliRunner().invoke(
        main, ["report", "--date", DAY.isoformat(), "--warehouse", str(warehouse), *args]
    )


def test_report_command_prints_every_section_and_writes_the_charts(published, tmp_path):
    result = _report(published.parent, "--out", str(tmp_path / "charts"))
    assert result.exit_code == 0, result.output
    for title in ("Match rate per leg", "Open discrepancies", "Cash and clearing"):
        assert title in result.output
    assert "Invoice aging: not published yet (receivables.invoice_aging)" in result.output
    assert "FX exposure: not published yet (fx.exposure)" in result.output
    # amounts in major units with the currency's own decimals
    assert "7659" in result.output and "3.238" in result.output and "123.45" in result.output
    assert "assets:bank:gb29" in result.output  # never an emoji shortcode
    written = sorted(p.name for p in (tmp_path / "charts").iterdir())
    assert written == ["2026-10-07_aging.png", "2026-10-07_recon_funnel.png"]


def test_report_exits_1_and_names_the_check_when_the_dates_run_failed(published):
    failed = RunRecord(
        partition_date=DAY.isoformat(),
        run_id="r1",
        success=False,
        published=False,
        recorded_at="2026-10-08T06:00:00+00:00",
        checks=[
            CheckOutcome("store/events", "hash_chain_verifies", False, True, "ERROR"),
            CheckOutcome("bank/bank_lines", "nothing_lost", True, True, "ERROR"),
        ],
        failed_steps=["store__events"],
    )
    write_run_record(published.parent, failed)
    result = _report(published.parent)
    assert result.exit_code == 1
    assert "store/events:hash_chain_verifies" in result.output
    assert "nothing was published" in result.output


def test_report_exits_0_when_the_dates_latest_run_passed(published):
    write_run_record(
        published.parent,
        RunRecord(DAY.isoformat(), "r2", True, True, "2026-10-08T06:00:00+00:00"),
    )
    assert _report(published.parent).exit_code == 0


def test_report_without_a_published_file_exits_2(tmp_path):
    result = _report(tmp_path)
    assert result.exit_code == 2
    assert "no published file" in result.output
    assert build_report(tmp_path / "analytics.duckdb", tmp_path, DAY).sections == {}


def test_a_run_record_reads_back_as_written(tmp_path):
    record = RunRecord(
        "2026-10-07",
        "r3",
        False,
        False,
        "2026-10-08T06:00:00+00:00",
        [CheckOutcome("x", "c", False, False, "WARN")],
        ["s"],
    )
    write_run_record(tmp_path, record)
    again = read_run_record(tmp_path, DAY)
    assert again == record
    assert again.failed_checks == record.checks and again.failed_blocking_checks == []
    assert read_run_record(tmp_path, date(2026, 10, 8)) is None
