"""Invoices as known on each date: late events, stability under later files, history replay."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from billing_pipeline.domain.invoices import InvoiceApplied, InvoiceEvent, apply_invoice_event
from billing_pipeline.receivables.versions import (
    KnownEvent,
    all_versions,
    event_from_history,
    known_on,
    versions_of,
)

D1, D2, D3 = date(2026, 10, 5), date(2026, 10, 6), date(2026, 10, 7)
T1 = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)


def ev(n: int, kind: str, amount: int | None = None, at: datetime = T1, **extra) -> InvoiceEvent:
    money = {"amount_minor": amount, "currency": "EUR"} if amount is not None else {}
    return InvoiceEvent(
        f"e{n:02d}", f"invoice.{kind}", at + timedelta(minutes=n), "inv_1", "cus_1",
        **money, **extra,
    )  # fmt: skip


def opened(amount: int = 10_000, due: date = D2) -> list[InvoiceEvent]:
    return [ev(0, "created", amount, due_date=due), ev(1, "sent")]


def test_a_bank_credit_delivered_next_day_is_not_in_the_aging_of_its_booking_date():
    # Booked on D1, in D2's statement: known from D2 (the later of the two dates).
    payment = ev(5, "payment_applied", 4_000, source="bank_credit")
    known = [KnownEvent(e, D1) for e in opened()] + [KnownEvent(payment, known_on(D1, D2))]
    first, second = versions_of(known)
    assert (first.known_from, first.state, first.amount_due_minor) == (D1, "open", 10_000)
    assert (second.known_from, second.state, second.amount_due_minor) == (
        D2,
        "partially_paid",
        6_000,
    )


def test_a_late_payment_that_happened_first_refolds_what_followed_it():
    # The credit note is known on D1; a payment that happened before it arrives on D2. On D1
    # the credit note took 7000 off the receivable; once the payment is known, it takes the
    # 4000 that was left and 3000 becomes customer credit.
    note = ev(9, "credit_note_issued", 7_000)
    payment = ev(5, "payment_applied", 6_000, source="card_payment")
    known = [KnownEvent(e, D1) for e in [*opened(), note]] + [KnownEvent(payment, D2)]
    on_d1, on_d2 = versions_of(known)
    assert (on_d1.state, on_d1.amount_due_minor, on_d1.customer_credit_minor) == ("open", 3_000, 0)
    assert (on_d2.state, on_d2.amount_due_minor, on_d2.customer_credit_minor) == ("paid", 0, 3_000)


def test_a_draft_owes_nothing_and_a_date_that_changes_nothing_adds_no_version():
    draft = [KnownEvent(ev(0, "created", 500, due_date=D2), D1)]
    refused = KnownEvent(ev(3, "payment_applied", 100, source="card_payment"), D2)
    (only,) = versions_of([*draft, refused])  # a payment on a draft is refused
    assert (only.state, only.amount_due_minor, only.amount_minor) == ("draft", 0, 500)


def test_versions_are_ordered_by_invoice_then_date():
    a = [KnownEvent(e, D2) for e in opened()]
    b = [KnownEvent(InvoiceEvent("x0", "invoice.created", T1, "inv_0", "c", 10, "EUR", D1), D3)]
    assert [(v.invoice_id, v.known_from) for v in all_versions([*a, *b])] == [
        ("inv_0", D3),
        ("inv_1", D2),
    ]


# --- properties -------------------------------------------------------------------------------

KINDS = ["payment_applied"] * 5 + ["credit_note_issued"] * 2 + ["written_off", "voided", "sent"]


@st.composite
def known_streams(draw) -> list[KnownEvent]:
    """One invoice: created and sent on day 0, then events that happen on some day and are
    delivered on that day or up to two days later."""
    amount = draw(st.integers(1, 10_000))
    events = [KnownEvent(e, D1) for e in opened(amount, due=D1 + timedelta(days=3))]
    for n in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(KINDS))
        day = draw(st.integers(0, 4))
        at = T1 + timedelta(days=day, minutes=draw(st.integers(0, 600)))
        money = draw(st.integers(1, 5_000)) if kind in KINDS[:7] else None
        source = "card_payment" if kind == "payment_applied" else None
        event = ev(10 + n, kind, money, at=at, source=source)
        recorded = D1 + timedelta(days=day + draw(st.sampled_from([0, 0, 0, 1, 2])))
        events.append(KnownEvent(event, known_on(D1 + timedelta(days=day), recorded)))
    return events


def _valid_on(versions, on: date):
    valid = [v for v in versions if v.known_from <= on]
    return valid[-1] if valid else None


@settings(max_examples=100, deadline=None)
@given(known_streams(), st.integers(0, 7))
def test_the_version_of_a_date_is_unchanged_by_anything_known_later(events, offset):
    on = D1 + timedelta(days=offset)
    everything = versions_of(events)
    known_then = versions_of([k for k in events if k.known_on <= on])
    # What a report for `on` says once later files arrived equals what it said on `on`.
    assert _valid_on(everything, on) == _valid_on(known_then, on)
    assert [v for v in everything if v.known_from <= on] == known_then


@settings(max_examples=100, deadline=None)
@given(known_streams())
def test_history_rows_replay_to_the_same_invoice(events):
    # Build history rows the way the ledger does (the invoice after each accepted event),
    # turn them back into events and fold again: the same invoice, step by step.
    ordered = sorted((k.event for k in events), key=lambda e: (e.occurred_at, e.event_id))
    invoice, rows = None, []
    for event in ordered:
        result = apply_invoice_event(invoice, event)
        if not isinstance(result, InvoiceApplied):
            continue
        invoice = result.invoice
        rows.append(
            {
                "event_id": event.event_id, "event_type": event.type,
                "occurred_at": event.occurred_at, "invoice_id": invoice.invoice_id,
                "customer_id": invoice.customer_id, "currency": invoice.currency,
                "due_date": invoice.due_date, "amount_minor": invoice.amount_minor,
                "receivable_delta_minor": result.receivable_delta_minor,
                "customer_credit_delta_minor": result.customer_credit_delta_minor,
            }
        )  # fmt: skip
    replayed = None
    for row in rows:
        result = apply_invoice_event(replayed, event_from_history(row))
        assert isinstance(result, InvoiceApplied), result
        replayed = result.invoice
    assert replayed == invoice
