"""A processor payout on its way to the bank: when it arrives, with which text, or not at all.

Shared by the Stripe and Adyen writers: the payout becomes a bank credit (or a debit, for a
negative payout) spooled for the account of its currency 0-3 business days later. The two
bank-side anomalies are decided here.
"""

from __future__ import annotations

import json
from datetime import date

from billing_pipeline.sample.clock import add_business_days
from billing_pipeline.sample.config import BANK_BY_CURRENCY
from billing_pipeline.sample.context import World

COUNTERPARTY = {"stripe": "STRIPE PAYMENTS EUROPE LTD", "adyen": "ADYEN N.V."}


def send_payout(
    world: World,
    processor: str,
    payout_ref: str,
    currency: str,
    amount: int,
    day: date,
    bank_text: str,
    payout_file: str,
    payout_line: int,
    lines: int,
    arrival: date,
) -> None:
    """Spool the bank side of a payout and record the payout in truth."""
    plan, rng = world.plan, world.rng
    account = BANK_BY_CURRENCY[currency]
    arrives = arrival <= world.end and amount != 0
    fate = "arrived" if arrives else "after_end" if amount else "nothing_to_pay"
    if plan.hit("payout_missing_at_bank", arrives and amount > 0):
        fate = "missing"
        world.truth.anomaly(
            "payout_missing_at_bank",
            payout_ref,
            payout_file,
            payout_line,
            f"{processor} payout of {amount} {currency} due {arrival} never credited",
        )
    bank_amount, anomaly, detail = amount, "", ""
    if fate == "arrived" and plan.hit("bank_amount_off_by_fee", amount > 10_000):
        fee = rng.choice((250, 500, 1500, 2500))
        bank_amount, anomaly = amount - fee, "bank_amount_off_by_fee"
        detail = f"bank credited {bank_amount} for a payout of {amount} (fee {fee})"
        fate = "off_by_fee"
    world.truth.row(
        "payouts",
        processor,
        payout_ref,
        bank_text,
        currency,
        amount,
        lines,
        day,
        arrival,
        fate,
        payout_file,
        payout_line,
    )
    if fate not in ("arrived", "off_by_fee"):
        return
    with_reference = rng.random() < 0.85
    text = bank_text if with_reference else f"{COUNTERPARTY[processor]} SETTLEMENT"
    entry = {
        "kind": "payout",
        "amount": bank_amount,
        "e2e": payout_ref.replace(":", "-")[:35],
        "counterparty": COUNTERPARTY[processor],
        "text": text,
        "processor": processor,
        "payout_ref": payout_ref,
        "payout_amount": amount,
        "basis": "reference" if with_reference else "amount_date",
        "anomaly": anomaly,
        "detail": detail,
    }
    world.spool.put(arrival, f"bank:{account.account_id}", json.dumps(entry, sort_keys=True))


def arrival_day(world: World, day: date) -> date:
    return add_business_days(day, world.rng.choice((0, 1, 1, 2, 3)))
