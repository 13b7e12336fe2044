"""Settlement facts: one processor balance line, decided when its payment event is decided.

A fact is spooled for the day the processor pays it out (the `set:<processor>:<currency>`
channel) as one tab-separated line; the processor writers turn it into a Stripe or Adyen row.
Amounts are integer minor units; conversion uses the processor's rate of the day the line was
created (capture, refund or dispute day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from billing_pipeline.sample.clock import utc_date
from billing_pipeline.sample.config import ADYEN_SETTLEMENT_CURRENCY, STRIPE_SETTLEMENT_CURRENCY
from billing_pipeline.sample.context import World
from billing_pipeline.sample.fx import convert_minor, rate_text

SETTLEMENT_CURRENCY = {"stripe": STRIPE_SETTLEMENT_CURRENCY, "adyen": ADYEN_SETTLEMENT_CURRENCY}
# Money towards the merchant is positive.
SIGN = {"charge": 1, "refund": -1, "dispute": -1, "dispute_reversal": 1}


@dataclass(frozen=True, slots=True)
class Fact:
    line_type: str  # charge | refund | dispute | dispute_reversal
    payment_id: str  # empty for a line the ledger does not know
    processor_ref: str
    line_ref: str
    source_id: str  # Stripe source object (ch_/re_/dp_); Adyen: dispute reference or empty
    intent_id: str
    created: int
    charge_currency: str
    charge_minor: int  # signed, in the charge currency
    currency: str  # settlement currency
    rate: str
    gross: int  # signed, settlement currency
    fees: tuple[int, int, int, int]  # commission, markup, scheme, interchange (Stripe: total first)
    description: str
    anomaly: str
    detail: str

    @property
    def fee(self) -> int:
        return sum(self.fees)

    @property
    def net(self) -> int:
        return self.gross - self.fee

    def to_line(self) -> str:
        return "\t".join(
            (
                self.line_type,
                self.payment_id,
                self.processor_ref,
                self.line_ref,
                self.source_id,
                self.intent_id,
                str(self.created),
                self.charge_currency,
                str(self.charge_minor),
                self.currency,
                self.rate,
                str(self.gross),
                ",".join(map(str, self.fees)),
                self.description,
                self.anomaly,
                self.detail,
            )
        )

    @classmethod
    def from_line(cls, line: str) -> Fact:
        p = line.split("\t")
        fees = tuple(int(x) for x in p[12].split(","))
        return cls(
            p[0],
            p[1],
            p[2],
            p[3],
            p[4],
            p[5],
            int(p[6]),
            p[7],
            int(p[8]),
            p[9],
            p[10],
            int(p[11]),
            fees,
            p[13],
            p[14],
            p[15],
        )  # type: ignore[arg-type]


def _fees(processor: str, line_type: str, converted: int) -> tuple[int, int, int, int]:
    if line_type == "charge":
        if processor == "stripe":
            return (converted * 29 // 1000 + 30, 0, 0, 0)
        return (10, converted * 3 // 1000, converted * 2 // 1000, converted * 12 // 1000)
    if line_type == "dispute":
        return (1500, 0, 0, 0) if processor == "stripe" else (750, 0, 0, 0)
    return (0, 0, 0, 0)


def make_fact(
    world: World,
    processor: str,
    line_type: str,
    payment_id: str,
    processor_ref: str,
    intent_id: str,
    created: int,
    charge_currency: str,
    charge_minor: int,
    source_id: str = "",
    description: str = "",
    anomaly: str = "",
    detail: str = "",
) -> Fact:
    currency = SETTLEMENT_CURRENCY[processor][charge_currency]
    rate = world.rates.processor_rate(utc_date(created), processor, charge_currency, currency)
    converted = convert_minor(charge_minor, charge_currency, currency, rate)
    sign = SIGN[line_type]
    if processor == "stripe":
        line_ref = world.ids.stripe_txn.next()
    else:
        line_ref = world.ids.adyen_modification.next()
    return Fact(
        line_type,
        payment_id,
        processor_ref,
        line_ref,
        source_id,
        intent_id,
        created,
        charge_currency,
        sign * charge_minor,
        currency,
        rate_text(rate),
        sign * converted,
        _fees(processor, line_type, converted),
        description,
        anomaly,
        detail,
    )


def spool_fact(world: World, processor: str, settle_day: date, fact: Fact) -> bool:
    return world.spool.put(settle_day, f"set:{processor}:{fact.currency}", fact.to_line())
