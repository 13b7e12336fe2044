"""The frame fold takes every step `payments.fold_from` takes, and hands back what it cannot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_pipeline.domain import payments
from billing_pipeline.domain.payment_frames import (
    EVENT_SCHEMA,
    MAX_STEPS,
    STATE_SCHEMA,
    fold_frames,
)

T0 = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
# Mostly the paths payments take, some of everything else (illegal moves, bad amounts, other
# currencies, an unknown type) so every guard is reached.
_KINDS = st.sampled_from(
    [f"payment.{k}" for k in ("authorized", "captured", "captured", "settled", "reconciled",
                              "refunded", "refunded", "dispute_opened", "dispute_won",
                              "dispute_lost", "failed", "voided", "created")]
    + ["payment.bogus"]
)  # fmt: skip
# The stored amounts (`_opening`) and their halves too, so every boundary is hit exactly.
_AMOUNTS = st.one_of(st.none(), st.sampled_from([0, -5, 2_500, 5_000, 10_000]),
                     st.integers(1, 12_000))  # fmt: skip


@st.composite
def _event(draw, payment_id: str, n: int) -> payments.PaymentEvent:
    return payments.PaymentEvent(
        event_id=f"{payment_id}-e{draw(st.integers(0, 40)):02d}-{n}",
        type=draw(_KINDS),
        # Ties on the instant are ordered by event id, as in the fold.
        occurred_at=T0 + timedelta(minutes=draw(st.integers(0, 30))),
        payment_id=payment_id,
        amount_minor=draw(_AMOUNTS),
        currency=draw(st.sampled_from(["EUR", "EUR", "EUR", "USD", None])),
        processor=draw(st.sampled_from([None, "stripe"])),
        processor_ref=draw(st.sampled_from([None, f"ch_{payment_id}"])),
        invoice_id=draw(st.sampled_from([None, f"inv_{payment_id}"])),
        customer_id=draw(st.sampled_from([None, "cus_1"])),
    )


_OPENING_AMOUNTS = {
    "payment.authorized": lambda amount: amount,
    "payment.captured": lambda amount: amount or 5_000,
    "payment.refunded": lambda amount: (amount or 5_000) // 2,
}


def _opening(payment_id: str, amount: int | None, steps: list[str]) -> list:
    """Events that bring a payment somewhere past `created`, as earlier runs would have."""
    at = T0 - timedelta(days=1)
    events = [payments.PaymentEvent(f"{payment_id}-a0", "payment.created", at, payment_id,
                                    None, "EUR")]  # fmt: skip
    for i, kind in enumerate(steps, start=1):
        events.append(payments.PaymentEvent(
            f"{payment_id}-a{i}", kind, at + timedelta(minutes=i), payment_id,
            _OPENING_AMOUNTS.get(kind, lambda a: None)(amount), "EUR",
        ))  # fmt: skip
    return events


@st.composite
def _payment(draw, index: int):
    payment_id = f"pay_{index:02d}"
    stored = None
    if draw(st.integers(0, 5)):  # now and then a payment with no stored state
        auth, capture = "payment.authorized", "payment.captured"
        steps = draw(st.sampled_from([
            [], [auth], [auth, capture], [auth, capture, "payment.dispute_opened"],
            [auth, capture, "payment.settled", "payment.refunded", "payment.dispute_opened"],
            [auth, capture, "payment.refunded"],
        ]))  # fmt: skip
        amount = draw(st.sampled_from([None, 5_000, 10_000]))
        stored = payments.fold_from(None, _opening(payment_id, amount, steps)).payment
    count = draw(st.integers(1, MAX_STEPS + 2))
    new = [draw(_event(payment_id, n)) for n in range(count)]
    if stored is None and draw(st.booleans()):  # created in this run, or not: both happen
        currency = draw(st.sampled_from(["EUR", "EUR", "XYZ", None]))
        new[0] = payments.PaymentEvent(f"{payment_id}-c", "payment.created", T0, payment_id,
                                       None, currency, "stripe", f"ch_{payment_id}")  # fmt: skip
    return stored, new


def _frames(cases):
    states = [dict(zip(STATE_SCHEMA, _fields(s), strict=True)) for s, _ in cases if s]
    events = [dict(zip(EVENT_SCHEMA, _fields(e), strict=True)) for _, new in cases for e in new]
    return pl.DataFrame(states, schema=STATE_SCHEMA), pl.DataFrame(events, schema=EVENT_SCHEMA)


def _fields(value) -> tuple:
    return tuple(getattr(value, name) for name in value.__slots__)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 12).flatmap(lambda n: st.tuples(*(_payment(i) for i in range(n)))))
def test_frame_fold_takes_the_steps_fold_from_takes(cases):
    _assert_same_as_fold_from(cases)


def test_every_single_step_from_every_opening_matches_fold_from():
    """Exhaustive over one new event: each opening, kind, boundary amount and currency."""
    openings = [[], ["payment.authorized"]] + [
        ["payment.authorized", "payment.captured", *rest]
        for rest in ([], ["payment.dispute_opened"], ["payment.refunded"],
                     ["payment.settled", "payment.refunded", "payment.dispute_opened"],
                     ["payment.refunded", "payment.dispute_opened"])
    ]  # fmt: skip
    kinds = [*payments.EVENT_TYPES]
    cases = []
    for steps in [None, *openings]:
        for authorized in (None, 5_000):
            for kind in kinds:
                for amount in (None, -5, 0, 2_499, 2_500, 2_501, 5_000, 5_001, 10_000):
                    for currency in ("EUR", "USD", "XYZ", None):
                        pid = f"pay_{len(cases):05d}"
                        stored = None
                        if steps is not None:
                            opening = _opening(pid, authorized, steps)
                            stored = payments.fold_from(None, opening).payment
                        event = payments.PaymentEvent(f"{pid}-n", kind, T0, pid, amount, currency)
                        cases.append((stored, [event]))
    _assert_same_as_fold_from(cases)


def _assert_same_as_fold_from(cases) -> None:
    fold = fold_frames(*_frames(cases))
    states = {row["payment_id"]: row for row in fold.states.iter_rows(named=True)}
    history = fold.history.select(payments.HistoryRow._fields).rows()
    rejections = fold.rejections.rows()
    expected_history, expected_rejections = [], []
    for stored, new in cases:
        payment_id = new[0].payment_id
        unusual = (
            len(new) > MAX_STEPS
            or len({e.event_id for e in new}) < len(new)
            or any(e.type not in payments.EVENT_TYPES for e in new)
        )
        assert (payment_id in fold.irregular) == unusual
        if unusual:
            assert payment_id not in states
            continue
        result = payments.fold_from(stored, new)
        if result.payment is None:  # never created
            assert payment_id not in states
        else:
            after = dict(zip(STATE_SCHEMA, _fields(result.payment), strict=True))
            assert states[payment_id] == after
        expected_history += [tuple(row) for row in result.history]
        expected_rejections += [tuple(r) for r in result.rejections]
    assert history == expected_history
    assert rejections == expected_rejections


def test_irregular_payments_are_named_not_folded():
    stored = payments.fold_from(None, _opening("pay_1", 100, ["payment.authorized"])).payment
    clean = payments.PaymentEvent("pay_1-b", "payment.captured", T0, "pay_1", 100, "EUR")
    odd = payments.PaymentEvent("pay_2-b", "payment.bogus", T0, "pay_2", 100, "EUR")
    fold = fold_frames(*_frames([(stored, [clean]), (None, [odd])]))
    assert fold.irregular == ["pay_2"]
    assert fold.states["state"].to_list() == ["captured"]
    assert fold.history["event_id"].to_list() == ["pay_1-b"]


def test_events_without_payment_id_are_refused_not_grouped():
    nameless = {**dict.fromkeys(EVENT_SCHEMA), "event_id": "e1", "type": "payment.created",
                "occurred_at": T0}  # fmt: skip
    with pytest.raises(ValueError, match="without payment_id"):
        fold_frames(
            pl.DataFrame(schema=STATE_SCHEMA), pl.DataFrame([nameless], schema=EVENT_SCHEMA)
        )
