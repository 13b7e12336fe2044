"""The vectorised Stripe and Adyen readers give exactly what the row-by-row readers give."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_pipeline.formats import adyen, csv_fast, stripe

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))

STRIPE_HEADER = (
    "balance_transaction_id,created_utc,available_on_utc,currency,gross,fee,net,"
    "reporting_category,source_id,description,customer_facing_amount,customer_facing_currency,"
    "automatic_payout_id,automatic_payout_effective_at_utc,charge_id,payment_intent_id,"
    "payment_metadata[payment_id]"
)
STRIPE_ROW = [
    "txn_1", "2026-10-06 20:42:42", "2026-10-07 00:00:00", "eur", "373.04", "11.11", "361.93",
    "charge", "ch_1", "Invoice INV-1", "373.04", "eur", "po_1", "2026-10-07 00:00:00", "ch_1",
    "pi_1", "pay_1",
]  # fmt: skip
ADYEN_HEADER = (
    "Company Account,Merchant Account,Psp Reference,Merchant Reference,Payment Method,"
    "Creation Date,TimeZone,Type,Modification Reference,Gross Currency,Gross Debit (GC),"
    "Gross Credit (GC),Exchange Rate,Net Currency,Net Debit (NC),Net Credit (NC),"
    "Commission (NC),Markup (NC),Scheme Fees (NC),Interchange (NC),Batch Number,"
    "Payment Fees (NC),DCC Markup (NC)"
)
ADYEN_ROW = [
    "BillingCo", "BillingCoEUR", "2484503839670389", "pay_1", "visa", "2026-10-06 04:54:44",
    "CEST", "Settled", "1171178341207710", "JPY", "", "32830", "0.00557956778", "EUR", "",
    "179.99", "0.1", "0.54", "0.36", "2.19", "1003", "", "",
]  # fmt: skip
TRICKY = st.sampled_from(
    [
        "", " ", "0", "-0.00", "+1.5", "1.", ".5", "007.50", "1,5", "1e3", "١٢", "12.345678901",
        "1234567890123.5", "EUR", "eur", "ÉUR", "XX", "payout", "Payout", "dispute", "network_cost",
        "2026-02-30 10:00:00", "2026-10-06T20:42", "2026-10-06  20:42:42", "2026-10-06 24:00:00",
        "2026-10-07", "2026-10-07x", "2026-10-07T", "0999-01-01 00:00:00", "CET", "ist", "UTC+2",
        "XYZ", "MerchantPayout", "Fee", "Refunded", "x:", "a\\b", " pad ", "\t", "\x0b",
        "MerchantPayout", "\u00a0", "line\nbreak", "comma,inside", 'quote"inside',
    ]
)  # fmt: skip


def _field(value: str, quote: bool) -> str:
    if quote or any(c in value for c in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


@st.composite
def csv_lines(draw, template: list[str]) -> list[str]:
    lines = []
    for _ in range(draw(st.integers(0, 14))):
        kind = draw(st.sampled_from(["good", "good", "mutated", "mutated", "odd"]))
        fields = list(template)
        if kind == "mutated":
            for _ in range(draw(st.integers(1, 3))):
                position = draw(st.integers(0, len(fields) - 1))
                fields[position] = draw(st.one_of(TRICKY, st.text(max_size=4)))
        if kind == "odd":
            lines.append(draw(st.sampled_from(["", "  ", "\x0b", "a,b", '"open', 'x,"y', "\x00"])))
            continue
        quote = draw(st.booleans())
        lines.append(",".join(_field(f, quote) for f in fields))
    return lines


def _both(parse, content: bytes, monkeypatch):
    def run():
        try:
            result = parse(content, "report.csv")
        except Exception as exc:
            return ("raised", type(exc).__name__, str(exc))
        frames = {name: frame.to_dicts() for name, frame in result.frames.items()}
        return frames, result.rejected, result.notes

    fast = run()
    with monkeypatch.context() as patch:
        patch.setattr(csv_fast, "split_records", lambda text: None)
        slow = run()
    return fast, slow


@SETTINGS
@given(csv_lines(STRIPE_ROW), st.sampled_from(["\n", "\r\n"]))
def test_stripe_fast_reader_equals_row_by_row_reader(lines, newline):
    with pytest.MonkeyPatch.context() as monkeypatch:
        content = newline.join([STRIPE_HEADER, *lines]).encode()
        fast, slow = _both(stripe.parse, content, monkeypatch)
    assert fast == slow


@SETTINGS
@given(csv_lines(ADYEN_ROW), st.sampled_from(["\n", "\r\n"]))
def test_adyen_fast_reader_equals_row_by_row_reader(lines, newline):
    with pytest.MonkeyPatch.context() as monkeypatch:
        content = newline.join([ADYEN_HEADER, *lines]).encode()
        fast, slow = _both(adyen.parse, content, monkeypatch)
    assert fast == slow


def test_ordinary_rows_take_the_fast_path():
    content = "\n".join([STRIPE_HEADER, ",".join(STRIPE_ROW)]).encode()
    split = csv_fast.split_records(content.decode())
    assert split is not None and split.fast.height == 1 and split.slow == []
    lines = stripe.parse(content, "r.csv").frames["settlement_lines"]
    assert lines["net_amount"].to_list() == ["361.93"] and lines["currency"].to_list() == ["EUR"]
