"""Stripe and Adyen reports: documented headers, quoting, and payouts that add up exactly."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from pathlib import Path

from billing_pipeline.domain.money import to_minor

REAL = Path(__file__).parents[1] / "fixtures" / "real"
# The header the task specifies for Stripe's itemized payout reconciliation (this exact order).
STRIPE_RECONCILIATION_HEADER = (
    '"balance_transaction_id","created_utc","available_on_utc","currency","gross","fee","net",'
    '"reporting_category","source_id","description","customer_facing_amount",'
    '"customer_facing_currency","automatic_payout_id","automatic_payout_effective_at_utc",'
    '"charge_id","payment_intent_id","payment_metadata[payment_id]"'
)
STRIPE_PAYOUTS_HEADER = (
    '"payout_id","effective_at_utc","currency","gross","fee","net","reporting_category",'
    '"balance_transaction_id","description","payout_expected_arrival_date","payout_status",'
    '"trace_id","trace_id_status"'
)
STRIPE_QUOTED_FIELD = r'(?:"(?:[^"]|"")+")?'
STRIPE_LINE = re.compile(rf"^{STRIPE_QUOTED_FIELD}(?:,{STRIPE_QUOTED_FIELD})*$")


def _documented_adyen_header() -> str:
    text = (REAL / "adyen" / "headers.md").read_text(encoding="utf-8")
    section = text.split("## Current header (49 columns; W2)")[1]
    return section.split("```")[1].strip()


def _rows(path: Path, skip: set[tuple[str, int]], rel: str) -> list[dict[str, str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    good = [lines[0]] + [t for n, t in enumerate(lines[1:], start=2) if (rel, n) not in skip]
    return list(csv.DictReader(good))


def test_stripe_files_have_the_specified_headers_and_stripe_quoting(world):
    malformed = world.malformed_lines()
    for path in world.files("stripe"):
        lines = path.read_text(encoding="utf-8").splitlines()
        expected = (
            STRIPE_PAYOUTS_HEADER
            if path.name.startswith("payouts")
            else STRIPE_RECONCILIATION_HEADER
        )
        assert lines[0] == expected
        rel = path.relative_to(world.inbox).as_posix()
        for n, line in enumerate(lines[1:], start=2):
            if (rel, n) not in malformed:
                assert STRIPE_LINE.match(line), f"{rel}:{n} is not quoted like Stripe: {line}"


def test_adyen_files_have_the_documented_49_column_header(world):
    expected = _documented_adyen_header()
    assert len(expected.split(",")) == 49
    files = world.files("adyen")
    assert files
    for path in files:
        assert path.read_text(encoding="utf-8").splitlines()[0] == expected
        assert re.fullmatch(r"settlement_detail_report_batch_\d+( \(1\))?\.csv", path.name)


def test_every_stripe_payout_equals_the_sum_of_its_lines_net(world):
    malformed = world.malformed_lines()
    checked = 0
    for path in world.files("stripe", "payout_reconciliation_itemized_*.csv"):
        rel = path.relative_to(world.inbox).as_posix()
        net: dict[str, int] = defaultdict(int)
        for row in _rows(path, malformed, rel):
            net[row["automatic_payout_id"]] += to_minor(row["net"], row["currency"].upper())
            gross, fee = (to_minor(row[c], row["currency"].upper()) for c in ("gross", "fee"))
            assert gross - fee == to_minor(row["net"], row["currency"].upper())
        payouts = path.with_name(
            path.name.replace("payout_reconciliation_itemized", "payouts_itemized")
        )
        for payout in csv.DictReader(payouts.open(encoding="utf-8")):
            assert to_minor(payout["net"], payout["currency"].upper()) == net.pop(
                payout["payout_id"]
            )
            checked += 1
        assert not net, "lines paid out in a payout the payouts file does not list"
    assert checked


def test_every_adyen_merchant_payout_equals_the_batch_net(world):
    malformed = world.malformed_lines()
    for path in world.files("adyen"):
        rel = path.relative_to(world.inbox).as_posix()
        rows = _rows(path, malformed, rel)
        total, payout, batches = 0, None, set()
        for row in rows:
            batches.add(row["Batch Number"])
            ccy = row["Net Currency"]
            credit = to_minor(row["Net Credit (NC)"] or "0", ccy)
            debit = to_minor(row["Net Debit (NC)"] or "0", ccy)
            assert not (credit and debit), "only one of debit/credit is filled"
            if row["Type"] == "MerchantPayout":
                payout = debit - credit
                assert re.fullmatch(
                    rf"TX\d+XT batch {row['Batch Number']}, {row['Merchant Account']}",
                    row["Modification Reference"],
                )
            else:
                total += credit - debit
        assert batches == {path.stem.split("_")[-1].split(" ")[0]}
        assert payout == total


def test_adyen_fee_columns_add_up_to_gross_minus_net_for_settled_rows(default_world):
    seen = 0
    for path in default_world.files("adyen"):
        rel = path.relative_to(default_world.inbox).as_posix()
        for row in _rows(path, default_world.malformed_lines(), rel):
            if row["Type"] != "Settled" or row["Gross Currency"] != row["Net Currency"]:
                continue
            ccy = row["Net Currency"]
            fees = sum(
                to_minor(row[c] or "0", ccy)
                for c in ("Commission (NC)", "Markup (NC)", "Scheme Fees (NC)", "Interchange (NC)")
            )
            gross, net = (
                to_minor(row["Gross Credit (GC)"], ccy),
                to_minor(row["Net Credit (NC)"], ccy),
            )
            assert gross - net == fees
            seen += 1
    assert seen > 50


def test_foreign_currency_charges_settle_converted_with_the_charge_amount_kept(default_world):
    """JPY/KWD charges settle in USD (Stripe) or EUR (Adyen) at a rate near the reference."""
    converted = 0
    for path in default_world.files("stripe", "payout_reconciliation_itemized_*.csv"):
        rel = path.relative_to(default_world.inbox).as_posix()
        for row in _rows(path, default_world.malformed_lines(), rel):
            if row["customer_facing_currency"] in ("jpy", "kwd"):
                assert row["currency"] == "usd"
                if row["customer_facing_currency"] == "jpy":
                    assert "." not in row["customer_facing_amount"]
                else:
                    assert len(row["customer_facing_amount"].split(".")[1]) == 3
                converted += 1
    assert converted > 10
