"""The invoice frame fold takes every step the one-by-one fold takes, and hands back what it
cannot."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_pipeline.domain import invoices
from billing_pipeline.domain.invoice_frames import (
    EVENT_SCHEMA,
    MAX_STEPS,
    STATE_SCHEMA,
    STEP_SCHEMA,
    fold_frames,
)
from billing_pipeline.warehouse.lifecycles import Folded, InvoiceStep, fold_invoice

T0 = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
# Mostly what invoices see, some of everything else (illegal moves, bad amounts, other
# currencies, an unknown type, an unknown payment source) so every guard is reached.
_KINDS = st.sampled_from(
    [*invoices.EVENT_TYPES, "invoice.payment_applied", "invoice.payment_applied",
     "invoice.credit_note_issued", "invoice.bogus"]
)  # fmt: skip
# The stored amounts (`_opening`) and their halves too, so every boundary is hit exactly.
_AMOUNTS = st.one_of(st.none(), st.sampled_from([0, -5, 2_500, 5_000, 10_000]),
                     st.integers(1, 12_000))  # fmt: skip
_DUE = st.sampled_from([None, date(2026, 11, 1), date(2026, 12, 1)])


@st.composite
def _event(draw, invoice_id: str, n: int) -> invoices.InvoiceEvent:
    kind = draw(_KINDS)
    source = None
    if kind == "invoice.payment_applied":
        source = draw(st.sampled_from(["card_payment", "bank_credit", "cheque"]))
    return invoices.InvoiceEvent(
        event_id=f"{invoice_id}-e{draw(st.integers(0, 40)):02d}-{n}",
        type=kind,
        # Ties on the instant are ordered by event id, as in the fold.
        occurred_at=T0 + timedelta(minutes=draw(st.integers(0, 30))),
        invoice_id=invoice_id,
        customer_id=draw(st.sampled_from([None, "cus_1", "cus_2"])),
        amount_minor=draw(_AMOUNTS),
        currency=draw(st.sampled_from(["EUR", "EUR", "EUR", "USD", None])),
        due_date=draw(_DUE),
        source=source,
        source_ref=None if source is None else f"ref_{n}",
    )


def _opening(invoice_id: str, amount: int, steps: list[str], customer) -> list:
    """Events that bring an invoice somewhere past `created`, as earlier runs would have."""
    at = T0 - timedelta(days=1)
    events = [invoices.InvoiceEvent(f"{invoice_id}-a0", "invoice.created", at, invoice_id,
                                    customer, amount, "EUR", date(2026, 10, 30))]  # fmt: skip
    for i, kind in enumerate(steps, start=1):
        part = amount // 2 if kind != "invoice.sent" else None
        source = "card_payment" if kind == "invoice.payment_applied" else None
        events.append(invoices.InvoiceEvent(
            f"{invoice_id}-a{i}", kind, at + timedelta(minutes=i), invoice_id, None, part,
            "EUR" if part else None, None, source,
        ))  # fmt: skip
    return events


@st.composite
def _invoice(draw, index: int):
    invoice_id = f"inv_{index:02d}"
    stored = None
    if draw(st.integers(0, 5)):  # now and then an invoice with no stored state
        sent, pay = "invoice.sent", "invoice.payment_applied"
        steps = draw(st.sampled_from([
            [], [sent], [sent, pay], [sent, pay, pay], [sent, "invoice.credit_note_issued"],
            [sent, "invoice.written_off"], ["invoice.voided"], [sent, pay, pay, pay],
        ]))  # fmt: skip
        amount = draw(st.sampled_from([5_000, 10_000]))
        customer = draw(st.sampled_from([None, "cus_1"]))
        stored = invoices.fold_invoice(_opening(invoice_id, amount, steps, customer)).invoice
    count = draw(st.integers(1, MAX_STEPS + 2))
    new = [draw(_event(invoice_id, n)) for n in range(count)]
    if stored is None and draw(st.booleans()):  # created in this run, or not: both happen
        currency = draw(st.sampled_from(["EUR", "EUR", "XYZ", None]))
        amount = draw(st.sampled_from([5_000, 0, None]))
        new[0] = invoices.InvoiceEvent(f"{invoice_id}-c", "invoice.created", T0, invoice_id,
                                       "cus_1", amount, currency, draw(_DUE))  # fmt: skip
    return stored, new


def _frames(cases):
    states = [dict(zip(STATE_SCHEMA, _fields(s), strict=True)) for s, _ in cases if s]
    events = [dict(zip(EVENT_SCHEMA, _fields(e), strict=True)) for _, new in cases for e in new]
    return pl.DataFrame(states, schema=STATE_SCHEMA), pl.DataFrame(events, schema=EVENT_SCHEMA)


def _fields(value) -> tuple:
    return tuple(getattr(value, name) for name in value.__slots__)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 12).flatmap(lambda n: st.tuples(*(_invoice(i) for i in range(n)))))
def test_frame_fold_takes_the_steps_the_one_by_one_fold_takes(cases):
    _assert_same_as_one_by_one(cases)


def test_every_single_step_from_every_opening_matches_the_one_by_one_fold():
    """Exhaustive over one new event: each opening, kind, boundary amount and currency."""
    sent, pay, credit = "invoice.sent", "invoice.payment_applied", "invoice.credit_note_issued"
    openings = [[], [sent], [sent, pay], [sent, pay, pay], [sent, credit],
                [sent, "invoice.written_off"], ["invoice.voided"]]  # fmt: skip
    cases = []
    for steps in [None, *openings]:
        for kind in invoices.EVENT_TYPES:
            for amount in (None, -5, 0, 2_499, 2_500, 2_501, 5_000, 5_001, 10_000):
                for currency in ("EUR", "USD", "XYZ", None):
                    for due in (None, date(2026, 12, 1)):
                        iid = f"inv_{len(cases):05d}"
                        stored = None
                        if steps is not None:
                            opening = _opening(iid, 5_000, steps, None)
                            stored = invoices.fold_invoice(opening).invoice
                        source = "bank_credit" if kind == pay else None
                        event = invoices.InvoiceEvent(f"{iid}-n", kind, T0, iid, "cus_9", amount,
                                                      currency, due, source)  # fmt: skip
                        cases.append((stored, [event]))
    _assert_same_as_one_by_one(cases)


def _assert_same_as_one_by_one(cases) -> None:
    fold = fold_frames(*_frames(cases))
    states = {row["invoice_id"]: row for row in fold.states.iter_rows(named=True)}
    steps = fold.history.rows()
    rejections = fold.rejections.select("event_id", "invoice_id", "reason").rows()
    expected_steps, expected_rejections = [], []
    for stored, new in cases:
        invoice_id = new[0].invoice_id
        unusual = (
            len(new) > MAX_STEPS
            or len({e.event_id for e in new}) < len(new)
            or any(e.type not in invoices.EVENT_TYPES for e in new)
            or any(e.type == "invoice.payment_applied" and e.source not in
                   invoices.PAYMENT_SOURCES for e in new)
        )  # fmt: skip
        assert (invoice_id in fold.irregular) == unusual
        if unusual:
            assert invoice_id not in states
            continue
        folded = Folded()
        fold_invoice(new, folded, stored)
        if not folded.invoice_states:  # never created
            assert invoice_id not in states
        else:
            [after] = folded.invoice_states
            assert states[invoice_id] == dict(zip(STATE_SCHEMA, _fields(after), strict=True))
        expected_steps += [tuple(step) for step in folded.invoice_history]
        expected_rejections += [(r.event_id, invoice_id, r.reason) for r in folded.rejections]
        # Every accepted event's effect is its step's (posting reads them by event id).
        assert folded.invoice_effects == {
            step.event_id: (step.receivable_delta_minor, step.customer_credit_delta_minor)
            for step in folded.invoice_history
        }
    assert list(STEP_SCHEMA) == list(InvoiceStep._fields)
    assert steps == expected_steps
    assert rejections == expected_rejections


def test_irregular_invoices_are_named_not_folded():
    opening = _opening("inv_1", 100, ["invoice.sent"], None)
    stored = invoices.fold_invoice(opening).invoice
    clean = invoices.InvoiceEvent("inv_1-b", "invoice.payment_applied", T0, "inv_1", None, 100,
                                  "EUR", source="card_payment")  # fmt: skip
    odd = invoices.InvoiceEvent("inv_2-b", "invoice.payment_applied", T0, "inv_2", None, 100,
                                "EUR", source="cash")  # fmt: skip
    fold = fold_frames(*_frames([(stored, [clean]), (None, [odd])]))
    assert fold.irregular == ["inv_2"]
    assert fold.states["state"].to_list() == ["paid"]
    assert fold.history["event_id"].to_list() == ["inv_1-b"]
