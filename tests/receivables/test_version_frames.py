"""Versions read off the history (invoices known in fold order) equal versions refolded."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_pipeline.domain.invoices import InvoiceApplied, apply_invoice_event
from billing_pipeline.receivables.version_builds import (
    SCHEMA,
    refolded_versions,
    versions_of_history,
)
from billing_pipeline.receivables.version_frames import split_in_fold_order
from billing_pipeline.receivables.versions import KnownEvent
from tests.receivables.test_versions import D1, T1, ev, known_streams, opened

HISTORY = {
    "invoice_id": pl.Utf8, "from_state": pl.Utf8, "to_state": pl.Utf8, "event_id": pl.Utf8,
    "event_type": pl.Utf8, "occurred_at": pl.Datetime("us", "UTC"), "customer_id": pl.Utf8,
    "currency": pl.Utf8, "due_date": pl.Date, "amount_minor": pl.Int64,
    "amount_due_minor": pl.Int64, "paid_minor": pl.Int64, "credited_minor": pl.Int64,
    "written_off_minor": pl.Int64, "customer_credit_minor": pl.Int64,
    "receivable_delta_minor": pl.Int64, "customer_credit_delta_minor": pl.Int64,
    "business_date": pl.Date, "recorded_on": pl.Date,
}  # fmt: skip


def _history(invoice_id: str, events: list[KnownEvent]) -> list[dict]:
    """The ledger's history rows of one invoice: the invoice after each accepted event, in
    fold order, with the dates its event happened on and was delivered on."""
    ordered = sorted(events, key=lambda k: (k.event.occurred_at, k.event.event_id))
    invoice, rows = None, []
    for known in ordered:
        event = dataclasses.replace(known.event, invoice_id=invoice_id)
        result = apply_invoice_event(invoice, event)
        if not isinstance(result, InvoiceApplied):
            continue
        invoice = result.invoice
        rows.append(
            {
                "invoice_id": invoice_id, "from_state": result.from_state,
                "to_state": invoice.state, "event_id": f"{invoice_id}:{event.event_id}",
                "event_type": event.type, "occurred_at": event.occurred_at,
                "customer_id": invoice.customer_id, "currency": invoice.currency,
                "due_date": invoice.due_date, "amount_minor": invoice.amount_minor,
                "amount_due_minor": invoice.amount_due_minor, "paid_minor": invoice.paid_minor,
                "credited_minor": invoice.credited_minor,
                "written_off_minor": invoice.written_off_minor,
                "customer_credit_minor": invoice.customer_credit_minor,
                "receivable_delta_minor": result.receivable_delta_minor,
                "customer_credit_delta_minor": result.customer_credit_delta_minor,
                # Known from the later of the two, as `versions.known_on` says.
                "business_date": event.occurred_at.date(), "recorded_on": known.known_on,
            }
        )  # fmt: skip
    return rows


def _frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=HISTORY, orient="row")


@settings(max_examples=150, deadline=None)
@given(st.lists(known_streams(), min_size=1, max_size=4))
def test_versions_read_off_the_history_equal_the_versions_refolded(streams):
    history = _frame([row for n, s in enumerate(streams) for row in _history(f"inv_{n}", s)])

    refolded = refolded_versions(history).sort("invoice_id", "known_from")

    assert versions_of_history(history).equals(refolded)


def _paid(n: int, amount: int, day: int, known_day: int) -> KnownEvent:
    event = ev(n, "payment_applied", amount, at=T1 + timedelta(days=day), source="card_payment")
    return KnownEvent(event, D1 + timedelta(days=known_day))


def test_an_invoice_known_in_fold_order_is_read_off_its_history():
    # Paid in two steps, each delivered the day it happened: known in fold order.
    events = [KnownEvent(e, D1) for e in opened(10_000)]
    events += [_paid(5, 4_000, day=1, known_day=1), _paid(6, 6_000, day=2, known_day=2)]
    history = _frame(_history("inv_a", events))

    regular, others = split_in_fold_order(history)

    assert (regular.height, others.height) == (4, 0)
    versions = versions_of_history(history)
    assert versions.select("known_from", "state", "amount_due_minor", "paid_minor").rows() == [
        (D1, "open", 10_000, 0),
        (D1 + timedelta(days=1), "partially_paid", 6_000, 4_000),
        (D1 + timedelta(days=2), "paid", 0, 10_000),
    ]
    assert versions.schema == pl.Schema(SCHEMA)


def test_an_event_known_after_a_later_one_sends_its_invoice_to_the_refold():
    # A payment of day 1 delivered on day 3, after day 2's payment was known: the day-2
    # version must not include it, so the history's rows cannot be read as they are.
    events = [KnownEvent(e, D1) for e in opened(10_000)]
    events += [_paid(5, 1_000, day=1, known_day=3), _paid(6, 500, day=2, known_day=2)]
    history = _frame(_history("inv_b", events))

    regular, others = split_in_fold_order(history)

    assert (regular.height, others.height) == (0, 4)
    assert versions_of_history(history).equals(refolded_versions(history))
