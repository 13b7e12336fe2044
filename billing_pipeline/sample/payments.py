"""Card payments: each payment's whole lifecycle is decided at creation and spooled.

`emit_card_payment` writes the payment's events (in lifecycle order, each to the log of its
UTC date) and its settlement facts (to the processor's payout day). `simulate_payments` draws
a day's one-off sales and emits them.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from dataclasses import dataclass
from datetime import date, timedelta

from billing_pipeline.sample.clock import DAY, EVENT_OFFSETS_MINUTES, day_start, utc_date
from billing_pipeline.sample.config import CURRENCY_MIX, MINOR_PER_US_CENT
from billing_pipeline.sample.context import World, customer_id
from billing_pipeline.sample.event_anomalies import inject_event_anomalies
from billing_pipeline.sample.events import payment_event, spool_event
from billing_pipeline.sample.settlement import make_fact, spool_fact

_CURRENCIES = tuple(c for c, _ in CURRENCY_MIX)
_CUMULATIVE = tuple(itertools.accumulate(s for _, s in CURRENCY_MIX))


@dataclass(slots=True)
class CardPayment:
    created: int
    customer: int
    invoice_id: str | None
    invoice_number: str | None
    currency: str
    amount: int  # authorized
    processor: str
    outcome: str  # failed | voided | captured
    capture_amount: int = 0
    capture_delay: int = 5
    void_delay: int = 600
    refunds: tuple[tuple[int, int], ...] = ()  # (seconds after capture, amount)
    dispute: tuple[int, str, int] | None = (
        None  # (seconds after capture, won|lost|pending, resolve)
    )
    settle_lag: int = 1  # days from capture (refund, dispute: from their day)
    offset: int = 0


def _lifecycle(p: CardPayment) -> list[tuple[int, str, int]]:
    t = p.created
    events = [(t, "payment.created", p.amount)]
    if p.outcome == "failed":
        return [*events, (t + 2, "payment.failed", p.amount)]
    events.append((t + 2, "payment.authorized", p.amount))
    if p.outcome == "voided":
        return [*events, (t + 2 + p.void_delay, "payment.voided", p.amount)]
    captured = t + 2 + p.capture_delay
    events.append((captured, "payment.captured", p.capture_amount))
    for delay, amount in p.refunds:
        events.append((captured + delay, "payment.refunded", amount))
    if p.dispute is not None:
        delay, result, resolve = p.dispute
        events.append((captured + delay, "payment.dispute_opened", p.capture_amount))
        if result != "pending":
            events.append(
                (captured + delay + resolve, f"payment.dispute_{result}", p.capture_amount)
            )
    return events


def emit_card_payment(world: World, p: CardPayment) -> tuple[str, int | None]:
    """Spool one payment's events and settlement facts; (payment_id, capture instant)."""
    ids = world.ids
    stripe = p.processor == "stripe"
    pid = ids.payment.next()
    ref = ids.stripe_charge.next() if stripe else ids.adyen_psp.next()
    intent = ids.stripe_intent.next() if stripe else ""
    cust = customer_id(p.customer)
    lifecycle = _lifecycle(p)
    texts = []
    for k, (instant, kind, amount) in enumerate(lifecycle):
        offset = EVENT_OFFSETS_MINUTES[(p.offset + k) % len(EVENT_OFFSETS_MINUTES)]
        text = payment_event(
            ids.event.next(), kind, instant, offset, pid, cust, p.invoice_id, amount, p.currency,
            p.processor, ref,
        )  # fmt: skip
        texts.append(text)
        spool_event(world, instant, kind, text)

    def event_like(kind: str, instant: int, amount: int) -> str:
        return payment_event(
            ids.event.next(), kind, instant, 0, pid, cust, p.invoice_id, amount, p.currency,
            p.processor, ref,
        )  # fmt: skip

    inject_event_anomalies(world, p.outcome, p.created, pid, lifecycle, texts, event_like)
    if p.outcome != "captured":
        return pid, None
    _spool_settlement(world, p, pid, ref, intent, lifecycle)
    return pid, lifecycle[2][0]


def _spool_settlement(world, p: CardPayment, pid, ref, intent, lifecycle) -> None:
    ids, plan, end = world.ids, world.plan, world.end
    stripe = p.processor == "stripe"
    description = f"Invoice {p.invoice_number}" if p.invoice_number else ""
    dispute_source = ""
    for instant, kind, amount in lifecycle[2:]:
        day = utc_date(instant)
        if kind == "payment.captured":
            lag, anomaly, detail = p.settle_lag, "", ""
            if plan.hit("late_settlement", day + timedelta(days=4) <= end):
                lag = plan.randint(4, min(7, (end - day).days))
                anomaly, detail = (
                    "late_settlement",
                    f"settles {lag} days after capture (normal 1-2)",
                )
            fact = make_fact(
                world,
                p.processor,
                "charge",
                pid,
                ref,
                intent,
                instant,
                p.currency,
                amount,
                ref if stripe else "",
                description,
                anomaly,
                detail,
            )
            spool_fact(world, p.processor, day + timedelta(days=lag), fact)
        elif kind == "payment.refunded":
            source = ids.stripe_refund.next() if stripe else ""
            fact = make_fact(
                world,
                p.processor,
                "refund",
                pid,
                ref,
                intent,
                instant,
                p.currency,
                amount,
                source,
                f"REFUND FOR CHARGE ({description or ref})",
            )
            spool_fact(world, p.processor, day + timedelta(days=1 + p.created % 2), fact)
        elif kind in ("payment.dispute_opened", "payment.dispute_won"):
            if not dispute_source:
                dispute_source = ids.stripe_dispute.next() if stripe else f"DR{ref[-10:]}"
            line_type = "dispute" if kind == "payment.dispute_opened" else "dispute_reversal"
            text = "Chargeback withdrawal" if line_type == "dispute" else "Chargeback reversal"
            fact = make_fact(
                world,
                p.processor,
                line_type,
                pid,
                ref,
                intent,
                instant,
                p.currency,
                amount,
                dispute_source,
                f"{text} for {ref}",
            )
            spool_fact(world, p.processor, day + timedelta(days=p.created % 2), fact)


def simulate_payments(world: World, day: date, count: int) -> int:
    """Draw and emit the day's one-off card sales (no invoice); returns how many.

    Pure-Python draws from one generator per day (numpy is not a dependency of the project);
    about 15 draws a payment, a small share of the time spent formatting its events.
    """
    rng = random.Random(f"{world.seed}:{day.isoformat()}:payments")
    rand, randrange = rng.random, rng.randrange
    base = day_start(day)
    mu = math.log(4500)
    for _ in range(count):
        currency = _CURRENCIES[bisect.bisect(_CUMULATIVE, rand() * _CUMULATIVE[-1])]
        cents = min(2_000_000, max(100, rng.lognormvariate(mu, 0.9)))
        amount = max(1, round(cents * MINOR_PER_US_CENT[currency]))
        u = rand()
        outcome = "failed" if u < 0.04 else "voided" if u < 0.08 else "captured"
        capture = max(1, amount * randrange(500, 950) // 1000) if rand() < 0.05 else amount
        capture_delay = randrange(2, 30) if rand() < 0.8 else randrange(3600, 40 * 3600)
        void_delay = randrange(60, 3600) if rand() < 0.6 else 7 * DAY + randrange(3600)
        refunds: tuple[tuple[int, int], ...] = ()
        dispute = None
        u = rand()
        if u < 0.05:
            refunds = (
                (randrange(DAY // 2, 6 * DAY), max(1, capture * randrange(100, 900) // 1000)),
            )
        elif u < 0.09:
            refunds = ((randrange(DAY // 2, 6 * DAY), capture),)
        elif rand() < 0.02:
            r = rand()
            result = "won" if r < 0.5 else "lost" if r < 0.9 else "pending"
            dispute = (randrange(DAY // 2, 4 * DAY), result, randrange(DAY // 4, 3 * DAY))
        emit_card_payment(
            world,
            CardPayment(
                base + randrange(DAY - 120),
                randrange(world.customers),
                None,
                None,
                currency,
                amount,
                "stripe" if rand() < 0.6 else "adyen",
                outcome,
                capture,
                capture_delay,
                void_delay,
                refunds,
                dispute,
                1 + (rand() < 0.5),
                randrange(len(EVENT_OFFSETS_MINUTES)),
            ),
        )
    return count
