"""A JPY invoice sent at rate A, paid by card at rate B, settled by Adyen in EUR at the
processor's rate, paid out at a later EUR rate: every FX step computed by hand."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import duckdb
import polars as pl
import pytest

from billing_pipeline.domain.fx import RateBook, parse_override
from billing_pipeline.warehouse.fx_attribution import payment_attribution
from billing_pipeline.warehouse.journal import build_facts, post_and_convert
from billing_pipeline.warehouse.ledger import ensure_ledger
from billing_pipeline.warehouse.lifecycles import fold_all
from billing_pipeline.warehouse.tables import ensure_schema

SENT, CAPTURED, SETTLED, PAID_OUT = (date(2026, 3, d) for d in (2, 4, 5, 6))
RATES = [  # 1 base = rate USD
    (SENT, "JPY", "0.0067"),  # A: 10,000 JPY = 67.00 USD
    (CAPTURED, "JPY", "0.0069"),  # B: 69.00 USD
    (SETTLED, "JPY", "0.0068"),  # reference on the settlement day: 68.00 USD
    (SETTLED, "EUR", "1.10"),
    (PAID_OUT, "EUR", "1.12"),
]
PAYMENT = {"payment_id": "pay_1", "customer_id": "c1", "invoice_id": "inv_1",
           "amount_minor": 10000, "currency": "JPY", "processor": "adyen",
           "processor_ref": "psp_1"}  # fmt: skip
EVENTS = [
    ("inv_c", "invoice.created", SENT, {"invoice_id": "inv_1", "customer_id": "c1",
     "amount_minor": 10000, "currency": "JPY", "due_date": "2026-03-30"}),
    ("inv_s", "invoice.sent", SENT, {"invoice_id": "inv_1", "customer_id": "c1",
     "amount_minor": 10000, "currency": "JPY", "due_date": "2026-03-30"}),
    ("pay_c", "payment.created", CAPTURED, PAYMENT),
    ("pay_a", "payment.authorized", CAPTURED, PAYMENT),
    ("pay_k", "payment.captured", CAPTURED, PAYMENT),
    # The processor paid 60.00 EUR for the 10,000 JPY (0.006 EUR/JPY), fee 1.00 EUR.
    ("adyen:line:1", "settlement.charge", SETTLED, {"processor": "adyen", "line_ref": "1",
     "line_type": "charge", "processor_ref": "psp_1", "payout_ref": "Acct:1",
     "currency": "EUR", "gross_minor": 6000, "fee_minor": 100, "net_minor": 5900,
     "original_currency": "JPY", "original_minor": 10000, "exchange_rate": "0.006"}),
    ("adyen:payout:Acct:1", "payout.sent", PAID_OUT, {"processor": "adyen",
     "payout_ref": "Acct:1", "currency": "EUR", "amount_minor": 5900}),
]  # fmt: skip


@pytest.fixture(scope="module")
def journal_conn():
    conn = duckdb.connect()
    ensure_schema(conn)
    ensure_ledger(conn)
    for seq, (key, kind, day, payload) in enumerate(EVENTS, start=1):
        at = datetime(day.year, day.month, day.day, 12, seq, tzinfo=UTC)
        conn.execute(
            "insert into store.events values (?, ?, ?, ?, ?, 'x', null, ?, '', '', '', 'test', "
            "'f', ?, ?, ?, 'run')",
            [seq, key, kind, at, day, json.dumps({**payload, "type": kind}), seq, day, at],
        )
    book = RateBook({}, [parse_override(d, ccy, "USD", r) for d, ccy, r in RATES])
    facts = build_facts(conn, fold_all(conn))
    lines, problems = post_and_convert(conn, facts, book, "USD", "half_even")
    assert problems.is_empty()
    return conn, lines


@pytest.fixture(scope="module")
def journal(journal_conn):
    return journal_conn[1]


def fx_result(lines, fact_type, account=None):
    """Net credit to income:fx_gain_loss (a gain is positive) of the entries of a type."""
    rows = lines.filter(
        (pl.col("fact_type") == fact_type) & (pl.col("account") == "income:fx_gain_loss")
    )
    if account is not None:
        rows = rows.filter(pl.col("fact_id").str.starts_with(f"fx.realized:{account}:"))
    return (rows["functional_credit_minor"] - rows["functional_debit_minor"]).sum()


def balance(lines, account, currency, functional=False):
    rows = lines.filter((pl.col("account") == account) & (pl.col("currency") == currency))
    prefix = "functional_" if functional else ""
    return (rows[f"{prefix}debit_minor"] - rows[f"{prefix}credit_minor"]).sum()


def test_invoice_paid_at_a_higher_rate_realizes_the_gain_and_zeroes_the_receivable(journal):
    # Receivable 6,700 cents at A, paid 6,900 cents at B: gain 200.
    assert fx_result(journal, "fx.realized", "assets:receivables") == 200
    assert balance(journal, "assets:receivables", "JPY") == 0
    assert balance(journal, "assets:receivables", "JPY", functional=True) == 0


def test_processor_rate_below_reference_is_a_conversion_loss(journal):
    # 10,000 JPY worth 68.00 USD at the reference rate became 60.00 EUR = 66.00 USD: loss 200.
    assert fx_result(journal, "settlement.conversion") == -200
    assert balance(journal, "equity:currency_exchange", "EUR") == -6000
    assert balance(journal, "equity:currency_exchange", "JPY") == 10000
    exchange = journal.filter(pl.col("account") == "equity:currency_exchange")
    assert (exchange["functional_debit_minor"] - exchange["functional_credit_minor"]).sum() == 0


def test_capture_to_settlement_and_settlement_to_payout_steps(journal):
    clearing = "assets:processor_clearing:adyen"
    # JPY in clearing: 6,900 at capture, 6,800 out at settlement: loss 100.
    # EUR in clearing: +6,600 (60.00 at 1.10) - 110 fee - 6,608 payout (59.00 at 1.12): gain 118.
    realized = journal.filter(
        (pl.col("fact_type") == "fx.realized") & (pl.col("account") == clearing)
    )
    by_currency = dict(
        zip(
            realized["currency"],
            realized["functional_debit_minor"] - realized["functional_credit_minor"],
            strict=True,
        )
    )
    assert by_currency == {"JPY": -100, "EUR": 118}
    for currency in ("JPY", "EUR"):
        assert balance(journal, clearing, currency) == 0
        assert balance(journal, clearing, currency, functional=True) == 0


def test_total_fx_effect_is_cash_value_minus_booked_revenue(journal):
    # Booked revenue 6,700; received 59.00 EUR (6,608) plus 1.00 EUR of fees (110) = 6,718.
    total = journal.filter(pl.col("account") == "income:fx_gain_loss")
    assert (total["functional_credit_minor"] - total["functional_debit_minor"]).sum() == 18
    assert 200 - 200 - 100 + 118 == 18


def test_every_fx_line_is_zero_in_its_transaction_currency_and_entries_balance(journal):
    fx = journal.filter(pl.col("fact_type").str.starts_with("fx.") | (pl.col("line_no") > 4))
    assert fx.height > 0
    assert (fx["debit_minor"] == 0).all() and (fx["credit_minor"] == 0).all()
    per_entry = journal.group_by("fact_id").agg(
        f=(pl.col("functional_debit_minor") - pl.col("functional_credit_minor")).sum()
    )
    assert (per_entry["f"] == 0).all()
    per_currency = journal.group_by("fact_id", "currency").agg(
        n=(pl.col("debit_minor") - pl.col("credit_minor")).sum()
    )
    assert (per_currency["n"] == 0).all()


def test_payment_attribution_splits_the_18_cents_into_its_three_steps(journal_conn):
    conn, lines = journal_conn
    rows = payment_attribution(conn, lines).to_dicts()
    # invoice -> capture: receivable realized +200; capture -> settlement: JPY clearing -100 and
    # conversion spread -200; settlement -> bank: EUR clearing +118 (test above, by hand).
    assert rows == [
        {"payment_id": "pay_1", "processor": "adyen", "processor_ref": "psp_1",
         "invoice_id": "inv_1", "currency": "JPY", "invoice_to_capture_minor": 200,
         "capture_to_settlement_minor": -300, "settlement_to_bank_minor": 118,
         "total_fx_minor": 18},
    ]  # fmt: skip
