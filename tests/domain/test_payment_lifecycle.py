"""The payment lifecycle: every table entry, the forbidden moves, amount guards, fold properties."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_pipeline.domain.payments import (
    EVENT_TYPES,
    STATES,
    TRANSITIONS,
    Applied,
    PaymentEvent,
    Rejected,
    apply,
    fold,
    fold_from,
    fold_many,
    transition_table,
)

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


class Script:
    """Builds one payment's events with increasing instants and ids."""

    def __init__(self, payment_id: str = "pay_1", currency: str = "EUR") -> None:
        self.payment_id, self.currency, self.n = payment_id, currency, 0

    def __call__(self, kind: str, amount: int | None = None, **fields) -> PaymentEvent:
        self.n += 1
        fields.setdefault("currency", self.currency)
        return PaymentEvent(
            event_id=f"{self.payment_id}-e{self.n:03d}",
            type=f"payment.{kind}",
            occurred_at=T0 + timedelta(minutes=self.n),
            payment_id=self.payment_id,
            amount_minor=amount,
            **fields,
        )


def path_to(state: str, ev: Script, before_dispute: str = "captured") -> list[PaymentEvent]:
    """Events that bring a fresh payment to `state` (authorized 10000, captured 6000)."""
    created = [ev("created")]
    authorized = [*created, ev("authorized", 10_000)]
    captured = [*authorized, ev("captured", 6_000)]
    if state == "disputed":
        return [*path_to(before_dispute, ev), ev("dispute_opened")]
    paths = {
        "created": lambda: created,
        "authorized": lambda: authorized,
        "captured": lambda: captured,
        "settled": lambda: [*captured, ev("settled")],
        "reconciled": lambda: [*captured, ev("settled"), ev("reconciled")],
        "partially_refunded": lambda: [*captured, ev("refunded", 1_000)],
        "refunded": lambda: [*captured, ev("refunded", 6_000)],
        "failed": lambda: [*created, ev("failed")],
        "voided": lambda: [*authorized, ev("voided")],
        "charged_back": lambda: [*captured, ev("dispute_opened"), ev("dispute_lost")],
    }
    return paths[state]()


def folded(events) -> object:
    result = fold(events)
    assert result.rejections == [], result.rejections
    return result.payment


# --- the table itself -------------------------------------------------------------------------

DOCUMENTED_TABLE = {
    (None, "payment.created", "created"),
    ("created", "payment.authorized", "authorized"),
    ("created", "payment.failed", "failed"),
    ("created", "payment.voided", "voided"),
    ("authorized", "payment.failed", "failed"),
    ("authorized", "payment.voided", "voided"),
    ("authorized", "payment.captured", "captured"),
    ("captured", "payment.captured", "captured"),
    ("captured", "payment.settled", "settled"),
    ("partially_refunded", "payment.settled", "settled"),
    ("settled", "payment.reconciled", "reconciled"),
    *(
        (s, "payment.refunded", to)
        for s in ("captured", "settled", "reconciled", "partially_refunded")
        for to in ("partially_refunded", "refunded")
    ),
    *(
        (s, "payment.dispute_opened", "disputed")
        for s in ("captured", "settled", "reconciled", "partially_refunded")
    ),
    *(
        ("disputed", "payment.dispute_won", s)
        for s in ("captured", "settled", "reconciled", "partially_refunded")
    ),
    ("disputed", "payment.dispute_lost", "charged_back"),
    *((s, "payment.settled", s) for s in ("refunded", "disputed", "charged_back")),
    *(
        (s, "payment.reconciled", s)
        for s in ("partially_refunded", "refunded", "disputed", "charged_back")
    ),
}


def test_transition_table_is_the_documented_lifecycle_without_duplicates():
    rows = transition_table()
    assert len(rows) == len(set(rows)) == 35
    assert set(rows) == DOCUMENTED_TABLE


def test_table_only_names_known_states_and_events_and_every_state_is_reachable():
    assert {t.event_type for t in TRANSITIONS} == set(EVENT_TYPES)
    assert {t.to_state for t in TRANSITIONS} == set(STATES)
    assert {t.from_state for t in TRANSITIONS} <= {None, *STATES}


def event_for(row, ev: Script, payment) -> PaymentEvent:
    """The event of `row`, with an amount that makes the row's condition true."""
    kind = row.event_type.removeprefix("payment.")
    if kind == "refunded":
        left = payment.amount_captured_minor - payment.amount_refunded_minor
        return ev(kind, left if row.to_state == "refunded" else 500)
    if kind == "captured":
        return ev(kind, 1_000)
    return ev(kind)


@pytest.mark.parametrize(
    "row", TRANSITIONS, ids=lambda t: f"{t.from_state}-{t.event_type}-{t.to_state}"
)
def test_every_table_entry_is_applied_to_its_target(row):
    ev = Script()
    if row.from_state is None:
        payment = None
    else:
        before = row.to_state if row.event_type == "payment.dispute_won" else "captured"
        payment = folded(path_to(row.from_state, ev, before_dispute=before))
        assert payment.state == row.from_state
    result = apply(payment, event_for(row, ev, payment))
    assert isinstance(result, Applied), result
    assert result.from_state == row.from_state
    assert result.payment.state == row.to_state


FORBIDDEN = [
    (state, kind)
    for state in STATES
    for kind in EVENT_TYPES
    if not any(t.from_state == state and t.event_type == kind for t in TRANSITIONS)
]


@pytest.mark.parametrize("state,kind", FORBIDDEN)
def test_every_move_missing_from_the_table_is_rejected_and_keeps_state(state, kind):
    ev = Script()
    payment = folded(path_to(state, ev))
    amount = 100 if kind in ("payment.captured", "payment.refunded") else None
    result = apply(payment, ev(kind.removeprefix("payment."), amount))
    assert result == Rejected(f"pay_1-e{ev.n:03d}", f"{kind} not allowed from {state}")


def test_an_event_before_payment_created_is_rejected():
    result = apply(None, Script()("authorized", 100))
    assert isinstance(result, Rejected)
    assert result.reason == "payment.authorized not allowed before payment.created"


def test_unknown_event_type_is_rejected_not_raised():
    ev = Script()
    payment = folded([ev("created")])
    result = apply(payment, ev("teleported"))
    assert result.reason == "unknown payment event type 'payment.teleported'"


# --- specific lifecycles ----------------------------------------------------------------------


def test_capture_after_void_is_rejected_and_keeps_state():
    ev = Script()
    result = fold([*path_to("voided", ev), ev("captured", 1_000)])
    assert result.payment.state == "voided"
    assert result.payment.amount_captured_minor == 0
    assert [r.reason for r in result.rejections] == ["payment.captured not allowed from voided"]


def test_partial_captures_add_up_to_the_authorized_amount_and_no_further():
    ev = Script()
    events = [ev("created"), ev("authorized", 5_000), ev("captured", 3_000), ev("captured", 2_000)]
    over = ev("captured", 1)
    result = fold([*events, over])
    assert result.payment.state == "captured"
    assert result.payment.amount_captured_minor == 5_000
    assert result.rejections[0].event_id == over.event_id
    assert result.rejections[0].reason == "capture 1 exceeds authorized 5000 - captured 5000"
    # A partial capture is an amount, not a state: it does not restart the state's clock.
    assert result.payment.state_since == events[2].occurred_at


def test_capture_is_unbounded_when_the_authorization_carried_no_amount():
    ev = Script()
    payment = folded([ev("created"), ev("authorized"), ev("captured", 9_999_999)])
    assert payment.amount_authorized_minor is None
    assert payment.amount_captured_minor == 9_999_999


def test_refund_over_captured_amount_is_rejected_and_keeps_state():
    ev = Script()
    events = [ev("created"), ev("authorized", 5_000), ev("captured", 4_000)]
    result = fold([*events, ev("refunded", 5_000)])
    assert result.payment.state == "captured"
    assert result.payment.amount_refunded_minor == 0
    assert result.rejections[0].reason == "refund 5000 exceeds captured 4000 - refunded 0"


def test_refunds_are_partial_until_they_reach_the_captured_total():
    ev = Script()
    result = fold([*path_to("settled", ev), ev("refunded", 2_500), ev("refunded", 3_500)])
    assert [(h.from_state, h.to_state) for h in result.history[-2:]] == [
        ("settled", "partially_refunded"),
        ("partially_refunded", "refunded"),
    ]
    assert result.payment.amount_refunded_minor == 6_000 == result.payment.amount_captured_minor


def test_second_refund_over_what_is_left_is_rejected_with_what_was_refunded():
    ev = Script()
    result = fold([*path_to("partially_refunded", ev), ev("refunded", 5_001)])
    assert result.payment.state == "partially_refunded"
    assert result.rejections[0].reason == "refund 5001 exceeds captured 6000 - refunded 1000"


@pytest.mark.parametrize("before", ["captured", "settled", "reconciled", "partially_refunded"])
def test_won_dispute_returns_to_the_state_before_the_dispute(before):
    ev = Script()
    events = path_to(before, ev)
    opened, won = ev("dispute_opened"), ev("dispute_won")
    result = fold([*events, opened, won])
    assert result.rejections == []
    assert [(h.from_state, h.to_state) for h in result.history[-2:]] == [
        (before, "disputed"),
        ("disputed", before),
    ]
    assert result.payment.state_since == won.occurred_at
    assert result.payment.amount_disputed_minor == 0
    assert result.payment.state_before_dispute is None


def test_lost_dispute_charges_back_the_disputed_amount_and_is_final():
    ev = Script()
    events = [*path_to("partially_refunded", ev), ev("dispute_opened"), ev("dispute_lost")]
    result = fold([*events, ev("refunded", 100), ev("dispute_won")])
    assert result.payment.state == "charged_back"
    # Captured 6000 - refunded 1000 is what the customer could still dispute.
    assert result.payment.amount_disputed_minor == 5_000
    assert len(result.rejections) == 2


def test_partial_dispute_records_the_disputed_amount_not_the_captured_one():
    ev = Script()
    payment = folded([*path_to("captured", ev), ev("dispute_opened", 2_000)])
    assert (payment.state, payment.amount_disputed_minor) == ("disputed", 2_000)
    assert payment.state_before_dispute == "captured"


def test_dispute_over_captured_minus_refunded_is_rejected():
    ev = Script()
    result = fold([*path_to("partially_refunded", ev), ev("dispute_opened", 5_001)])
    assert result.payment.state == "partially_refunded"
    assert result.rejections[0].reason == "dispute 5001 exceeds captured 6000 - refunded 1000"


def test_payment_can_settle_after_a_partial_refund_and_then_reconcile():
    ev = Script()
    payment = folded([*path_to("partially_refunded", ev), ev("settled"), ev("reconciled")])
    assert payment.state == "reconciled"
    assert (payment.amount_captured_minor, payment.amount_refunded_minor) == (6_000, 1_000)


def test_currency_mismatch_is_rejected_and_keeps_amounts():
    ev = Script(currency="EUR")
    events = path_to("captured", ev)
    result = fold([*events, ev("refunded", 100, currency="USD")])
    assert result.payment.amount_refunded_minor == 0
    assert result.rejections[0].reason == "currency USD does not match payment currency EUR"


@pytest.mark.parametrize("amount", [0, -100, True, 12.5, "100"])
def test_amount_that_is_not_a_positive_int_is_rejected(amount):
    ev = Script()
    result = apply(folded(path_to("captured", ev)), ev("refunded", amount))
    assert isinstance(result, Rejected)
    assert result.reason == f"amount_minor must be a positive int, got {amount!r}"


def test_capture_and_refund_need_an_amount_and_an_amount_needs_a_currency():
    ev = Script()
    payment = folded(path_to("captured", ev))
    assert apply(payment, ev("refunded")).reason == "payment.refunded without amount_minor"
    no_ccy = apply(payment, ev("refunded", 10, currency=None))
    assert no_ccy.reason == "amount_minor 10 without currency"


@pytest.mark.parametrize(
    "currency,reason",
    [(None, "payment.created without currency"), ("ZZZ", "unknown or retired currency code")],
)
def test_payment_created_needs_a_real_currency(currency, reason):
    result = apply(None, Script(currency=currency)("created"))
    assert isinstance(result, Rejected)
    assert result.reason.startswith(reason)


@pytest.mark.parametrize(
    "currency,authorized,captured,refunded",
    [("JPY", 1_500, 1_500, 700), ("KWD", 12_345, 12_000, 11_999), ("EUR", 999, 2, 1)],
)
def test_minor_units_are_plain_ints_whatever_the_exponent(currency, authorized, captured, refunded):
    # JPY has no minor unit (1500 is ¥1500), KWD has three (12345 is 12.345 KWD): the lifecycle
    # compares integers and never scales them.
    ev = Script(currency=currency)
    events = [ev("created"), ev("authorized", authorized), ev("captured", captured)]
    payment = folded([*events, ev("refunded", refunded)])
    assert payment.currency == currency
    assert (payment.amount_captured_minor, payment.amount_refunded_minor) == (captured, refunded)
    assert payment.state == "partially_refunded"


def test_reference_fields_fill_in_from_later_events_but_are_never_overwritten():
    ev = Script()
    events = [
        ev("created", customer_id="cus_1"),
        ev("authorized", 100, processor="stripe", processor_ref="pi_1", customer_id="cus_X"),
        ev("captured", 100, processor_ref="ch_9", invoice_id="inv_7"),
    ]
    payment = folded(events)
    assert (payment.customer_id, payment.processor, payment.processor_ref, payment.invoice_id) == (
        "cus_1",
        "stripe",
        "pi_1",
        "inv_7",
    )


def test_event_of_another_payment_is_rejected():
    ev, other = Script("pay_1"), Script("pay_2")
    payment = folded(path_to("authorized", ev))
    result = apply(payment, other("captured", 100))
    assert result.reason == "event for payment 'pay_2' applied to 'pay_1'"


# --- fold mechanics ---------------------------------------------------------------------------


def test_fold_orders_by_instant_then_event_id_not_by_input_order():
    ev = Script()
    created, authorized, captured = ev("created"), ev("authorized", 100), ev("captured", 100)
    tie = PaymentEvent("a-first", "payment.settled", captured.occurred_at, "pay_1")
    # Same instant as the capture, but "a-first" < "pay_1-e003": settles before it captures.
    result = fold([tie, captured, authorized, created])
    assert [h.event_id for h in result.history] == [
        e.event_id for e in (created, authorized, captured)
    ]
    assert result.rejections[0].event_id == "a-first"


def test_instants_in_other_offsets_sort_by_the_instant_they_denote():
    created = Script("p")("created")
    # 10:30+02:00 is 08:30 UTC, before the creation at 09:01 UTC.
    plus_two = timezone(timedelta(hours=2))
    early = PaymentEvent(
        "x", "payment.authorized", datetime(2025, 3, 1, 10, 30, tzinfo=plus_two), "p"
    )
    result = fold([created, early])
    assert result.rejections[0].reason == "payment.authorized not allowed before payment.created"


def test_events_without_id_or_with_naive_instant_are_rejected_not_raised():
    ev = Script()
    created = ev("created")
    naive = PaymentEvent("n", "payment.authorized", datetime(2025, 3, 1, 10), "pay_1")
    no_id = PaymentEvent(None, "payment.authorized", T0, "pay_1")
    no_time = PaymentEvent("t", "payment.authorized", None, "pay_1")
    result = fold([created, naive, no_id, no_time])
    assert result.payment.state == "created"
    reasons = sorted(r.reason.split(",")[0] for r in result.rejections)
    assert reasons == [
        "event_id missing",
        "occurred_at must be a timezone-aware instant",
        "occurred_at must be a timezone-aware instant",
    ]


def test_same_event_twice_applies_once_and_conflicting_copies_are_all_rejected():
    ev = Script()
    created, auth = ev("created"), ev("authorized", 500)
    capture = ev("captured", 200)
    conflicting = PaymentEvent(
        capture.event_id, capture.type, capture.occurred_at, "pay_1", 300, "EUR"
    )
    result = fold([created, auth, auth, capture, conflicting])
    assert result.payment.state == "authorized"
    assert sorted(r.reason for r in result.rejections) == [
        "duplicate event_id",
        "event_id seen with different payloads",
        "event_id seen with different payloads",
    ]


def test_fold_accepts_mappings_and_tuples_in_event_column_order():
    as_dict = {
        "event_id": "e1", "type": "payment.created", "occurred_at": T0, "payment_id": "p",
        "currency": "GBP", "source_line": 17,
    }  # fmt: skip
    as_tuple = ("e2", "payment.authorized", T0 + timedelta(seconds=1), "p", 250, "GBP")
    payment = folded([as_dict, as_tuple])
    assert (payment.state, payment.currency, payment.amount_authorized_minor) == (
        "authorized",
        "GBP",
        250,
    )


def test_fold_many_streams_one_result_per_payment_like_fold():
    scripts = [Script(f"pay_{i}") for i in range(3)]
    per_payment = [
        path_to("reconciled", scripts[0]),
        [*path_to("captured", scripts[1]), scripts[1]("voided")],
        path_to("charged_back", scripts[2]),
    ]
    results = list(fold_many(itertools.chain.from_iterable(per_payment)))
    assert results == [fold(events) for events in per_payment]
    assert [r.payment.state for r in results] == ["reconciled", "captured", "charged_back"]
    assert [len(r.rejections) for r in results] == [0, 1, 0]


def test_fold_many_yields_a_payment_as_soon_as_the_next_one_starts():
    first, second = path_to("captured", Script("a")), path_to("captured", Script("b"))
    consumed = []

    def rows():
        for event in [*first, *second]:
            consumed.append(event)
            yield event

    results = fold_many(rows())
    assert next(results).payment.payment_id == "a"
    assert len(consumed) == len(first) + 1


def test_fold_many_refuses_rows_not_sorted_by_payment():
    a, b = Script("a"), Script("b")
    rows = [b("created"), a("created")]
    with pytest.raises(ValueError, match="not sorted by payment_id: 'a' after 'b'"):
        list(fold_many(rows))


def test_fold_many_reports_rows_without_payment_id_on_their_own():
    a = Script("a")
    orphan = PaymentEvent("o1", "payment.created", T0, None, None, "EUR")
    results = list(fold_many([a("created"), orphan, a("authorized", 10)]))
    assert [r.payment.state if r.payment else None for r in results] == [None, "authorized"]
    assert results[0].rejections[0].reason == "payment_id missing"


# --- properties -------------------------------------------------------------------------------

VALID_AMOUNTS = st.integers(1, 2_500)
# Mostly usable amounts (repeated strategies weigh more), some missing, invalid or too large.
AMOUNTS = st.one_of(
    VALID_AMOUNTS, VALID_AMOUNTS, VALID_AMOUNTS, st.none(), st.integers(-50, 0), st.just(9_000)
)
VALID_AMOUNTS = st.integers(1, 2_500)
# Mostly usable amounts (repeated strategies weigh more), some missing, invalid or too large.
AMOUNTS = st.one_of(
    VALID_AMOUNTS, VALID_AMOUNTS, VALID_AMOUNTS, st.none(), st.integers(-50, 0), st.just(9_000)
)
KINDS = st.sampled_from([*(k.removeprefix("payment.") for k in EVENT_TYPES), "bogus"])
CURRENCIES = st.sampled_from(["EUR"] * 8 + ["USD", None])


def _room(payment, kind: str) -> int | None:
    """What is left to capture or refund: amounts up to it apply, it reaches the limits."""
    if payment is None:
        return None
    if kind == "captured" and payment.amount_authorized_minor is not None:
        return payment.amount_authorized_minor - payment.amount_captured_minor or None
    if kind == "refunded":
        return payment.amount_captured_minor - payment.amount_refunded_minor or None
    return None


@st.composite
def event_streams(draw) -> list[PaymentEvent]:
    """One payment's events: mostly a walk the table allows (so deep states are reached),
    mixed with random events, bad amounts, other currencies and colliding instants.

    The walk only steers generation (it tracks the payment with `apply`); the properties
    below check `fold` against the table and the invariants, not against this walk.
    """
    events: list[PaymentEvent] = []
    payment = None
    clock = T0
    if draw(st.integers(0, 9)):  # mostly a creation first, so later events have a payment
        events.append(PaymentEvent("e000", "payment.created", T0, "pay", None, "EUR"))
        payment = apply(None, events[0]).payment
    for i in range(1, draw(st.integers(1, 25)) + 1):
        state = payment.state if payment else None
        # Failing or voiding ends a payment: offered less often, so streams reach deep states.
        allowed = [
            kind
            for kind in sorted({t.event_type for t in TRANSITIONS if t.from_state == state})
            for _ in range(1 if kind in ("payment.failed", "payment.voided") else 5)
        ]
        if allowed and draw(st.integers(0, 4)):
            kind = draw(st.sampled_from(allowed)).removeprefix("payment.")
            room = _room(payment, kind)
            fits = st.one_of(st.integers(1, room), st.just(room)) if room else VALID_AMOUNTS
            amount = draw(st.one_of(fits, VALID_AMOUNTS))
            currency = "EUR"
            clock += timedelta(minutes=draw(st.integers(0, 2)))
        else:
            kind, amount, currency = draw(KINDS), draw(AMOUNTS), draw(CURRENCIES)
        at = clock if currency == "EUR" else T0 + timedelta(minutes=draw(st.integers(0, 40)))
        event = PaymentEvent(
            f"e{draw(st.integers(0, 999)):03d}-{i}", f"payment.{kind}", at, "pay", amount, currency
        )
        events.append(event)
        result = apply(payment, event)
        if isinstance(result, Applied):
            payment = result.payment
    return events


TABLE = set(transition_table())


def assert_amount_invariants(p) -> None:
    assert 0 <= p.amount_refunded_minor <= p.amount_captured_minor
    if p.amount_authorized_minor is not None:
        assert p.amount_captured_minor <= p.amount_authorized_minor
    assert 0 <= p.amount_disputed_minor <= p.amount_captured_minor - p.amount_refunded_minor
    assert (p.state == "disputed") == (p.state_before_dispute is not None)


@settings(max_examples=200, deadline=None)
@given(event_streams())
def test_folding_equals_replaying_only_the_accepted_events(events):
    result = fold(events)
    accepted = {h.event_id for h in result.history}
    replay = fold([e for e in events if e.event_id in accepted])
    assert replay.rejections == []
    assert replay.payment == result.payment
    assert replay.history == result.history
    # Nothing is lost: each event is either in the history or rejected, exactly once.
    assert len(result.history) + len(result.rejections) == len(events)


@settings(max_examples=200, deadline=None)
@given(event_streams())
def test_every_history_step_is_a_table_entry_and_the_steps_chain(events):
    result = fold(events)
    types = {e.event_id: e.type for e in events}
    previous = None
    for h in result.history:
        assert (h.from_state, types[h.event_id], h.to_state) in TABLE
        assert h.from_state == previous
        previous = h.to_state
    assert (result.payment.state if result.payment else None) == previous


@settings(max_examples=200, deadline=None)
@given(event_streams())
def test_amount_invariants_hold_after_every_step_and_rejections_leave_the_payment_as_it_was(
    events,
):
    payment = None
    for event in sorted(events, key=lambda e: (e.occurred_at, e.event_id)):
        result = apply(payment, event)
        if isinstance(result, Applied):
            payment = result.payment
            assert_amount_invariants(payment)
        else:
            assert isinstance(result, Rejected) and result.reason
    assert payment == fold(events).payment


@settings(max_examples=200, deadline=None)
@given(event_streams(), st.randoms(use_true_random=False))
def test_fold_does_not_depend_on_input_order(events, rnd):
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert fold(shuffled) == fold(events)


@settings(max_examples=100, deadline=None)
@given(event_streams(), st.randoms(use_true_random=False))
def test_fold_does_not_depend_on_input_order_even_with_duplicates_and_conflicts(events, rnd):
    noisy = [*events, *rnd.sample(events, k=min(3, len(events)))]
    noisy.append(PaymentEvent(events[-1].event_id, "payment.bogus", T0, "pay"))
    shuffled = list(noisy)
    rnd.shuffle(shuffled)
    assert fold(shuffled) == fold(noisy)
    assert Counter(r.event_id for r in fold(noisy).rejections)[events[-1].event_id] >= 2


@given(event_streams(), st.integers(0, 40))
def test_folding_onto_a_folded_prefix_equals_folding_everything(events, cut):
    """How an incremental run resumes a payment: the state after the first events, then the
    rest (all sorting after them), gives the fold of all of them."""
    ordered = sorted(events, key=lambda e: (e.occurred_at, e.event_id))
    head, tail = ordered[:cut], ordered[cut:]
    start = fold(head)
    resumed = fold_from(start.payment, tail)
    whole = fold(events)
    assert resumed.payment == whole.payment
    assert start.history + resumed.history == whole.history
    assert start.rejections + resumed.rejections == whole.rejections
