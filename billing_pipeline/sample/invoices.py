"""Invoices: created, sent, then paid by card or bank transfer, or never, voided, credited.

Each invoice's whole future is decided when it is created: invoice events are spooled to the
event log, card payments are emitted through `emit_card_payment` (with the invoice id), bank
transfers are spooled to the account of the invoice's currency with the allocation that cash
application should find (leg 3). Invoices in JPY or KWD, for which the merchant has no bank
account, are always paid by card. One truth row per invoice states its position at the end.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from billing_pipeline.sample.clock import DAY, day_start, on_or_after_business_day, utc_date
from billing_pipeline.sample.config import BANK_BY_CURRENCY, CURRENCY_MIX, MINOR_PER_US_CENT
from billing_pipeline.sample.context import World, customer_id, customer_name
from billing_pipeline.sample.events import invoice_event, spool_event
from billing_pipeline.sample.payments import CardPayment, emit_card_payment

OUTCOMES = (
    ("card_full", 24),
    ("bank_full", 22),
    ("bank_partial", 6),
    ("bank_installments", 7),
    ("bank_late", 6),
    ("bank_combined", 5),
    ("bank_overpaid", 2),
    ("unpaid", 8),
    ("written_off", 4),
    ("voided", 5),
    ("credited", 8),
    ("draft", 3),
)
TERMS_DAYS = (0, 3, 7, 14, 30)


@dataclass
class Invoice:
    invoice_id: str
    number: str
    customer: int
    currency: str
    amount: int
    created: int
    outcome: str
    sent: int | None = None
    due: date = date.min
    credited: int = 0  # as of the world's end
    paid_card: int = 0
    paid_bank: int = 0
    overpaid: int = 0
    closed: str = ""  # void | written_off, if that happened before the end
    events: list[tuple[int, str, int]] = field(default_factory=list)


def _remittance(rng: random.Random, numbers: list[str], exact: bool) -> tuple[str, str]:
    """(text, form) of a transfer's remittance information."""
    if len(numbers) > 1:
        if rng.random() < 0.5:
            return " ".join(numbers), "combined_spaces"
        return "Invoices " + "/".join(numbers), "combined_slash"
    digits = numbers[0].removeprefix("INV-")
    forms = [
        ("INV-{d}", "canonical"),
        ("inv {d}", "lower_space"),
        ("Invoice: INV{d}", "labelled_no_dash"),
        ("Payment for INV-{d} thank you", "sentence"),
    ]
    if exact:
        forms.append(("SEPA CREDIT TRANSFER", "none"))
    template, form = forms[rng.randrange(len(forms))]
    return template.format(d=digits), form


class InvoiceSimulator:
    def __init__(self, world: World, day: date) -> None:
        self.world = world
        self.end_instant = day_start(world.end + timedelta(days=1))
        self.rng = random.Random(f"{world.seed}:{day.isoformat()}:invoices")
        self.base = day_start(day)

    def _new(self, customer: int, currency: str, created: int, outcome: str) -> Invoice:
        rng, factor = self.rng, MINOR_PER_US_CENT[currency]
        cents = min(5_000_000, max(500, rng.lognormvariate(math.log(40_000), 0.8)))
        ids = self.world.ids
        return Invoice(
            ids.invoice.next(),
            ids.next_invoice_number(),
            customer,
            currency,
            max(1, round(cents * factor)),
            created,
            outcome,
        )

    def run(self, count: int) -> None:
        rng = self.rng
        names = [o for o, _ in OUTCOMES]
        weights = [w for _, w in OUTCOMES]
        currencies = [c for c, _ in CURRENCY_MIX]
        shares = [s for _, s in CURRENCY_MIX]
        for _ in range(count):
            outcome = rng.choices(names, weights)[0]
            currency = rng.choices(currencies, shares)[0]
            if outcome.startswith("bank_") and currency not in BANK_BY_CURRENCY:
                outcome = "card_full"
            customer = rng.randrange(self.world.customers)
            created = self.base + rng.randrange(DAY - 8 * 3600)
            invoice = self._new(customer, currency, created, outcome)
            group = [invoice]
            if outcome == "bank_combined":
                group.append(self._new(customer, currency, created + 30, outcome))
            for inv in group:
                self._send(inv)
            self._settle(group)
            for inv in group:
                self._finish(inv)

    def _send(self, inv: Invoice) -> None:
        rng = self.rng
        terms = rng.choice(TERMS_DAYS)
        inv.events.append((inv.created, "invoice.created", inv.amount))
        if inv.outcome == "draft" or (inv.outcome == "voided" and rng.random() < 0.3):
            inv.due = utc_date(inv.created) + timedelta(days=30)
            return
        inv.sent = inv.created + rng.randrange(600, 6 * 3600)
        inv.due = utc_date(inv.sent) + timedelta(days=terms)
        inv.events.append((inv.sent, "invoice.sent", inv.amount))

    def _settle(self, group: list[Invoice]) -> None:
        rng, inv = self.rng, group[0]
        if inv.outcome == "voided":
            at = (inv.sent or inv.created) + rng.randrange(3600, 2 * DAY)
            inv.events.append((at, "invoice.voided", inv.amount))
            inv.closed = "void" if at < self.end_instant else ""
            return
        if inv.sent is None or inv.outcome == "unpaid":
            return
        if inv.outcome == "written_off":
            at = inv.sent + rng.randrange(DAY, 4 * DAY)
            inv.events.append((at, "invoice.written_off", inv.amount))
            inv.closed = "written_off" if at < self.end_instant else ""
            return
        pay_at = inv.sent + rng.randrange(3600, 3 * DAY)
        due = inv.amount
        if inv.outcome == "credited":
            credit = inv.amount * rng.randint(10, 50) // 100
            credit_at = inv.sent + rng.randrange(7200, DAY)
            inv.events.append((credit_at, "invoice.credit_note_issued", credit))
            if credit_at < self.end_instant:
                inv.credited = credit
            due, pay_at = inv.amount - credit, credit_at + rng.randrange(3600, 3 * DAY)
            if inv.currency in BANK_BY_CURRENCY and rng.random() < 0.6:
                self._transfer(group, pay_at, [due])
                return
        if inv.outcome in ("card_full", "credited"):
            self._card(inv, pay_at, due)
        elif inv.outcome in ("bank_full", "bank_combined"):
            self._transfer(group, pay_at, [g.amount for g in group])
        elif inv.outcome == "bank_partial":
            self._transfer(group, pay_at, [inv.amount * rng.randint(30, 70) // 100])
        elif inv.outcome == "bank_late":
            late = day_start(inv.due + timedelta(days=rng.randint(1, 4))) + rng.randrange(8 * 3600)
            self._transfer(group, max(late, pay_at), [inv.amount])
        elif inv.outcome == "bank_overpaid":
            extra = max(1, inv.amount * rng.randint(1, 5) // 100)
            self._transfer(group, pay_at, [inv.amount], unapplied=extra)
        elif inv.outcome == "bank_installments":
            parts = rng.choice((2, 3))
            share = inv.amount // parts
            for k in range(parts):
                part = share if k < parts - 1 else inv.amount - share * (parts - 1)
                self._transfer(group, pay_at + k * rng.randrange(DAY, 3 * DAY), [part])

    def _card(self, inv: Invoice, at: int, amount: int) -> None:
        rng, world = self.rng, self.world
        processor = "stripe" if rng.random() < 0.6 else "adyen"
        common = dict(
            customer=inv.customer,
            invoice_id=inv.invoice_id,
            invoice_number=inv.number,
            currency=inv.currency,
            amount=amount,
            processor=processor,
            offset=rng.randrange(8),
            settle_lag=rng.randint(1, 2),
        )
        if rng.random() < 0.1:  # a declined first attempt, paid an hour later
            emit_card_payment(world, CardPayment(created=at, outcome="failed", **common))
            at += 3600
        _, captured = emit_card_payment(
            world, CardPayment(created=at, outcome="captured", capture_amount=amount, **common)
        )
        if captured is not None and captured < self.end_instant:
            inv.paid_card += amount

    def _transfer(
        self, group: list[Invoice], at: int, applied: list[int], unapplied: int = 0
    ) -> None:
        world, rng = self.world, self.rng
        booked = on_or_after_business_day(utc_date(at))
        if booked > world.end:
            return
        exact = len(group) == 1 and applied[0] == group[0].amount and not unapplied
        text, form = _remittance(rng, [g.number for g in group], exact)
        basis = "combined" if len(group) > 1 else "amount" if form == "none" else "reference"
        account = BANK_BY_CURRENCY[group[0].currency]
        entry = {
            "kind": "invoice_payment",
            "amount": sum(applied) + unapplied,
            "e2e": "NOTPROVIDED"
            if rng.random() < 0.3
            else f"E2E{group[0].number[4:]}{rng.randrange(10**6):06d}",
            "counterparty": customer_name(group[0].customer),
            "text": text,
            "allocations": [
                [g.invoice_id, g.number, a] for g, a in zip(group, applied, strict=True)
            ],
            "unapplied": unapplied,
            "basis": basis,
            "form": form,
        }
        world.spool.put(booked, f"bank:{account.account_id}", json.dumps(entry, sort_keys=True))
        for g, a in zip(group, applied, strict=True):
            g.paid_bank += a
        group[0].overpaid += unapplied

    def _finish(self, inv: Invoice) -> None:
        world = self.world
        cust = customer_id(inv.customer)
        for k, (instant, kind, amount) in enumerate(inv.events):
            offset = (0, -300, 330, 60)[(inv.customer + k) % 4]
            text = invoice_event(
                world.ids.event.next(),
                kind,
                instant,
                offset,
                inv.invoice_id,
                inv.number,
                cust,
                amount,
                inv.currency,
                inv.due,
            )
            spool_event(world, instant, kind, text)
        world.truth.row(
            "invoices",
            inv.invoice_id,
            inv.number,
            cust,
            inv.currency,
            inv.amount,
            inv.credited,
            inv.paid_card,
            inv.paid_bank,
            inv.overpaid,
            self._state(inv),
            utc_date(inv.created),
            utc_date(inv.sent) if inv.sent is not None else "",
            inv.due,
            inv.outcome,
        )

    def _state(self, inv: Invoice) -> str:
        if inv.closed:
            return inv.closed
        if inv.sent is None or inv.sent >= self.end_instant:
            return "draft"
        paid = inv.paid_card + inv.paid_bank
        if paid >= inv.amount - inv.credited:
            return "paid"
        if inv.due < self.world.end:
            return "overdue"
        return "partially_paid" if paid else "open"


def simulate_invoices(world: World, day: date, count: int) -> None:
    InvoiceSimulator(world, day).run(count)
