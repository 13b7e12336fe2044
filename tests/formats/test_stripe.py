"""Stripe reports by header name: the header lines are real (tests/fixtures/real/stripe/
headers.md H1-H4), the rows are written here by hand."""

import csv
import io
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from billing_pipeline.formats import stripe
from billing_pipeline.formats.base import UnreadableFile

HEADERS_MD = (Path(__file__).parents[1] / "fixtures" / "real" / "stripe" / "headers.md").read_text()


def header(label: str) -> list[str]:
    block = re.search(rf"\*\*{label}:.*?```\n(.*?)\n```", HEADERS_MD, re.S)
    assert block is not None, label
    return next(csv.reader([block.group(1)]))


def report(label: str, *rows: dict[str, str]) -> bytes:
    names = header(label)
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        assert set(row) <= set(names), set(row) - set(names)
        writer.writerow([row.get(name, "") for name in names])
    return out.getvalue().encode()


def test_h1_default_columns_charge_refund_fee_and_payout():
    content = report(
        "H1",
        {
            "balance_transaction_id": "txn_1",
            "created_utc": "2024-05-01 10:00:00",
            "available_on_utc": "2024-05-03",
            "currency": "usd",
            "gross": "12.00",
            "fee": "0.65",
            "net": "11.35",
            "reporting_category": "charge",
        },
        {
            "balance_transaction_id": "txn_2",
            "created_utc": "2024-05-01 11:00:00",
            "available_on_utc": "2024-05-03",
            "currency": "usd",
            "gross": "-5.00",
            "fee": "0.00",
            "net": "-5.00",
            "reporting_category": "partial_capture_reversal",
        },
        {
            "balance_transaction_id": "txn_3",
            "created_utc": "2024-05-02 00:00:00",
            "available_on_utc": "2024-05-02",
            "currency": "usd",
            "gross": "-100.00",
            "fee": "0.00",
            "net": "-100.00",
            "reporting_category": "payout",
            "description": "STRIPE PAYOUT",
        },
        {
            "balance_transaction_id": "txn_4",
            "created_utc": "2024-05-02 00:00:00",
            "available_on_utc": "2024-05-02",
            "currency": "usd",
            "gross": "-2.00",
            "fee": "0.00",
            "net": "-2.00",
            "reporting_category": "climate_order",
            "description": "Climate",
        },
    )
    result = stripe.parse(content, "balance.csv")
    lines = result.frames["settlement_lines"].to_dicts()
    assert [(x["line_ref"], x["line_type"]) for x in lines] == [
        ("txn_1", "charge"),
        ("txn_2", "refund"),
        ("txn_4", "adjustment"),
    ]
    charge = lines[0]
    assert (
        charge["currency"],
        charge["gross_amount"],
        charge["fee_amount"],
        charge["net_amount"],
    ) == ("USD", "12.00", "0.65", "11.35")
    assert charge["occurred_at"] == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert charge["available_on"] == date(2024, 5, 3)
    assert (charge["original_currency"], charge["original_amount"]) == ("USD", "12.00")
    assert lines[2]["description"] == "Climate"
    [payout] = result.frames["payouts"].to_dicts()
    # no payout id in the default columns: the payout's own balance transaction stands in
    assert (payout["payout_ref"], payout["amount"], payout["bank_reference"]) == (
        "txn_3",
        "100.00",
        "txn_3",
    )
    assert result.rows_read == 4 and result.rejected == []


def test_h2_all_columns_links_charge_payout_and_customer_facing_amount():
    content = report(
        "H2",
        {
            "balance_transaction_id": "txn_9",
            "created_utc": "2024-07-01 09:00:00",
            "created": "2024-07-01 10:00:00",
            "available_on_utc": "2024-07-03 00:00:00",
            "currency": "gbp",
            "gross": "8.50",
            "fee": "0.33",
            "net": "8.17",
            "reporting_category": "charge",
            "source_id": "ch_src",
            "charge_id": "ch_1",
            "customer_facing_amount": "10.00",
            "customer_facing_currency": "eur",
            "automatic_payout_id": "po_7",
            "trace_id": "STRIPE-XYZ",
            "payment_metadata[order_id]": "o-1",
        },
    )
    [line] = stripe.parse(content, "all.csv").frames["settlement_lines"].to_dicts()
    assert (line["processor_ref"], line["payout_ref"], line["merchant_ref"]) == (
        "ch_1",
        "po_7",
        None,
    )
    assert (line["original_currency"], line["original_amount"]) == ("EUR", "10.00")
    assert line["occurred_at"] == datetime(2024, 7, 1, 9, tzinfo=UTC)  # the _utc column wins
    assert line["available_on"] == date(2024, 7, 3)


def test_h3_itemized_payouts_keep_debit_payout_negative_and_trace_id():
    content = report(
        "H3",
        {
            "payout_id": "po_1",
            "effective_at_utc": "2024-05-02 00:00:00",
            "currency": "gbp",
            "gross": "250.00",
            "fee": "0.00",
            "net": "250.00",
            "reporting_category": "payout",
            "payout_expected_arrival_date": "2024-05-03",
            "trace_id": "STRIPE-TRACE-1",
        },
        {
            "payout_id": "po_2",
            "effective_at_utc": "2024-05-04 00:00:00",
            "currency": "gbp",
            "gross": "-20.35",
            "fee": "0.00",
            "net": "-20.35",
            "reporting_category": "payout",
        },
    )
    payouts = stripe.parse(content, "payouts.csv").frames["payouts"].to_dicts()
    assert [(p["payout_ref"], p["amount"], p["bank_reference"]) for p in payouts] == [
        ("po_1", "250.00", "STRIPE-TRACE-1"),
        ("po_2", "-20.35", "po_2"),
    ]
    assert payouts[0]["arrival_date"] == date(2024, 5, 3)


def test_h4_reordered_columns_with_only_local_created_are_read_as_utc_and_noted():
    content = report(
        "H4",
        {
            "balance_transaction_id": "txn_5",
            "source_id": "py_1",
            "created": "2024-05-01 23:30:00",
            "available_on": "2024-05-03",
            "currency": "eur",
            "gross": "1.00",
            "fee": "0.10",
            "net": "0.90",
            "reporting_category": "dispute_reversal",
            "automatic_payout_id": "po_9",
            "gateway_account": "not a stripe column",
        },
    )
    result = stripe.parse(content, "h4.csv")
    [line] = result.frames["settlement_lines"].to_dicts()
    assert (line["line_type"], line["processor_ref"], line["payout_ref"]) == (
        "chargeback_reversal",
        "py_1",
        "po_9",
    )
    assert line["occurred_at"] == datetime(2024, 5, 1, 23, 30, tzinfo=UTC)
    assert any("created" in note for note in result.notes)


def test_comma_decimal_separator_on_request():
    content = report(
        "H1",
        {
            "balance_transaction_id": "t",
            "created_utc": "2024-05-01 10:00:00",
            "currency": "eur",
            "gross": "12,50",
            "fee": "0,25",
            "net": "12,25",
            "reporting_category": "charge",
        },
    )
    [line] = stripe.parse(content, "x", decimal_separator=",").frames["settlement_lines"].to_dicts()
    assert (line["gross_amount"], line["net_amount"]) == ("12.50", "12.25")


def test_bad_rows_are_rejected_with_line_and_reason_and_good_rows_survive():
    content = (
        report(
            "H1",
            {
                "balance_transaction_id": "ok",
                "created_utc": "2024-05-01 10:00:00",
                "currency": "usd",
                "gross": "1",
                "fee": "0",
                "net": "1",
                "reporting_category": "charge",
            },
            {
                "balance_transaction_id": "bad_date",
                "created_utc": "2024-13-01 10:00:00",
                "currency": "usd",
                "gross": "1",
                "fee": "0",
                "net": "1",
                "reporting_category": "charge",
            },
            {
                "balance_transaction_id": "bad_amount",
                "created_utc": "2024-05-01 10:00:00",
                "currency": "usd",
                "gross": "1,000.00",
                "fee": "0",
                "net": "1",
                "reporting_category": "charge",
            },
        )
        + b'"short","row"\n'
    )
    result = stripe.parse(content, "x")
    assert result.frames["settlement_lines"]["line_ref"].to_list() == ["ok"]
    reasons = {r.line_no: r.reason for r in result.rejected}
    assert "bad date-time '2024-13-01 10:00:00' in created_utc" in reasons[3]
    assert "gross '1,000.00' is not a decimal amount" in reasons[4]
    assert "expected 9 fields" in reasons[5]
    assert result.rows_read == 4


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b'"id","amount"\n"x","1"\n', "header lacks"),
        (
            b'"balance_transaction_id","reporting_category","currency","gross","fee","net"\n',
            "created",
        ),
    ],
)
def test_not_a_stripe_report_is_unreadable(content, reason):
    with pytest.raises(UnreadableFile, match=reason):
        stripe.parse(content, "x")


def test_header_only_report_gives_empty_frames():
    result = stripe.parse(report("H1"), "x")
    assert result.rows_read == 0
