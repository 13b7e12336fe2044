"""Adyen Settlement details report: the documentation example lines (headers.md) and rows
written by hand in the 49-column layout."""

import csv
import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from billing_pipeline.formats import adyen
from billing_pipeline.formats.base import UnreadableFile

HEADERS_MD = (Path(__file__).parents[1] / "fixtures" / "real" / "adyen" / "headers.md").read_text()


def block(title: str) -> list[str]:
    found = re.search(rf"## {title}.*?```\n(.*?)\n```", HEADERS_MD, re.S)
    assert found is not None, title
    return found.group(1).splitlines()


LEGACY = block("Legacy header")[0]
CURRENT = next(csv.reader([block("Current header")[0]]))
DOC_LINES = block("Example data lines")


def test_documentation_example_lines_settled_and_chargeback():
    result = adyen.parse(
        "\n".join([LEGACY, *DOC_LINES]).encode(), "settlement_detail_report_batch_4.csv"
    )
    settled, chargeback = result.frames["settlement_lines"].to_dicts()
    # Settled: GBP gross credit 5.00, net credit 4.88, fees 0.04 + 0.01 + 0.07 = 0.12
    assert (settled["line_type"], settled["currency"]) == ("charge", "GBP")
    assert (settled["gross_amount"], settled["fee_amount"], settled["net_amount"]) == (
        "5.00",
        "0.12",
        "4.88",
    )
    assert (settled["processor_ref"], settled["merchant_ref"], settled["line_ref"]) == (
        "1813702551707653",
        "3vpzf7",
        "1713702551795048",
    )
    assert settled["occurred_at"] == datetime(2013, 6, 3, 10, 26, 49, tzinfo=UTC)  # CET = +01:00
    # Chargeback: gross debit 349.99, net debit 357.49 including commission 7.5
    assert (chargeback["gross_amount"], chargeback["fee_amount"], chargeback["net_amount"]) == (
        "-349.99",
        "7.5",
        "-357.49",
    )
    assert (chargeback["original_currency"], chargeback["original_amount"]) == ("EUR", "-349.99")


def current_report(*rows: dict[str, str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CURRENT)
    for row in rows:
        writer.writerow([row.get(name, "") for name in CURRENT])
    return out.getvalue().encode()


BASE = {"Company Account": "Co", "Merchant Account": "ShopEU", "Batch Number": "42"}


def test_current_layout_fx_settlement_fee_line_and_merchant_payout():
    content = current_report(
        {
            **BASE,
            "Psp Reference": "8815",
            "Merchant Reference": "pay_1",
            "Type": "Settled",
            "Creation Date": "2024-07-01 09:00:00",
            "TimeZone": "PDT",
            "Modification Reference": "8815",
            "Gross Currency": "INR",
            "Gross Credit (GC)": "10.00",
            "Exchange Rate": "0.011",
            "Net Currency": "USD",
            "Net Debit (NC)": "0.03",
            "Interchange (NC)": "0.10",
            "Payment Fees (NC)": "0.03",
            "Gross Fees (NC)": "0.13",
        },
        {
            **BASE,
            "Type": "Fee",
            "Creation Date": "2024-07-02 00:00:00",
            "TimeZone": "BST",
            "Modification Reference": "Transaction Fees July 2024",
            "Net Currency": "USD",
            "Net Debit (NC)": "1.50",
        },
        {
            **BASE,
            "Type": "MerchantPayout",
            "Creation Date": "2024-07-02 01:00:00",
            "TimeZone": "UTC",
            "Modification Reference": "TX4711XT batch 42, ShopEU",
            "Net Currency": "USD",
            "Net Debit (NC)": "98.47",
        },
    )
    result = adyen.parse(content, "settlement_detail_report_batch_42.csv")
    settled, fee = result.frames["settlement_lines"].to_dicts()
    # net debit 0.03 although the gross was a credit: fees exceed the converted amount
    assert (settled["net_amount"], settled["fee_amount"], settled["gross_amount"]) == (
        "-0.03",
        "0.13",
        "0.10",
    )
    assert (settled["original_currency"], settled["original_amount"], settled["exchange_rate"]) == (
        "INR",
        "10.00",
        "0.011",
    )
    assert settled["occurred_at"] == datetime(2024, 7, 1, 16, tzinfo=UTC)  # PDT = -07:00
    assert settled["payout_ref"] == "ShopEU:42"
    assert (fee["line_type"], fee["net_amount"], fee["processor_ref"]) == ("fee", "-1.50", None)
    assert fee["line_ref"] == "ShopEU:42:Fee:3"
    [payout] = result.frames["payouts"].to_dicts()
    assert (payout["payout_ref"], payout["amount"], payout["bank_reference"]) == (
        "ShopEU:42",
        "98.47",
        "TX4711XT batch 42, ShopEU",
    )


def test_unknown_timezone_or_missing_net_rejects_the_row_only():
    content = current_report(
        {
            **BASE,
            "Psp Reference": "1",
            "Type": "Settled",
            "Creation Date": "2024-07-01 09:00:00",
            "TimeZone": "XYZT",
            "Modification Reference": "1",
            "Net Currency": "EUR",
            "Net Credit (NC)": "1",
        },
        {
            **BASE,
            "Psp Reference": "2",
            "Type": "Refunded",
            "Creation Date": "2024-07-01 09:00:00",
            "TimeZone": "CEST",
            "Modification Reference": "2",
            "Net Currency": "EUR",
        },
        {
            **BASE,
            "Psp Reference": "3",
            "Type": "DepositCorrection",
            "Creation Date": "2024-07-01 09:00:00",
            "TimeZone": "CEST",
            "Modification Reference": "3",
            "Net Currency": "EUR",
            "Net Credit (NC)": "5",
        },
    )
    result = adyen.parse(content, "x.csv")
    assert [(r.line_no, r.reason) for r in result.rejected] == [
        (2, "unknown TimeZone 'XYZT': cannot place Creation Date in UTC"),
        (3, "both Net Debit (NC) and Net Credit (NC) are empty"),
    ]
    [line] = result.frames["settlement_lines"].to_dicts()
    assert (line["line_type"], line["description"]) == ("adjustment", "DepositCorrection")


def test_aggregate_report_is_refused_with_a_clear_reason():
    content = (
        b"Merchant/Company,Start date,End date,Aggregation,Country codes\n"
        b"ShopEU,2024-07-01,2024-07-31,Daily,NL\n"
        b"Country Code,Store,Terminal ID,Batch Number,Batch Closed Date\n"
    )
    with pytest.raises(UnreadableFile, match="aggregate"):
        adyen.parse(content, "aggregate.csv")


def test_missing_required_column_is_unreadable():
    with pytest.raises(UnreadableFile, match="Batch Number"):
        adyen.parse(LEGACY.replace(",Batch Number", "").encode(), "x.csv")
