"""The invoice lifecycle: table entries, payments and credit notes, write-offs, aging."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_pipeline.domain.invoices import (
    AGING_BUCKETS,
    EVENT_TYPES,
    STATES,
    TRANSITIONS,
    InvoiceApplied,
    InvoiceEvent,
    InvoiceRejected,
    aging_bucket,
    apply_invoice_event,
    days_past_due,
    fold_invoice,
    state_as_of,
    transition_table,
)

T0 = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)
DUE = date(2025, 2, 9)


class Script:
    """Builds one invoice's events with increasing instants and ids."""

    def __init__(self, invoice_id: str = "inv_1", currency: str = "EUR") -> None:
        self.invoice_id, self.currency, self.n = invoice_id, currency, 0

    def __call__(self, kind: str, amount: int | None = None, **fields) -> InvoiceEvent:
        self.n += 1
        fields.setdefault("currency", self.currency)
        if kind == "payment_applied":
            fields.setdefault("source", "bank_credit")
        return InvoiceEvent(
            event_id=f"{self.invoice_id}-e{self.n:03d}",
            type=f"invoice.{kind}",
            occurred_at=T0 + timedelta(hours=self.n),
            invoice_id=self.invoice_id,
            amount_minor=amount,
            **fields,
        )

    def opened(self, amount: int = 10_000) -> list[InvoiceEvent]:
        return [self("created", amount, customer_id="cus_1", due_date=DUE), self("sent")]


def folded(events):
    result = fold_invoice(events)
    assert result.rejections == [], result.rejections
    return result.invoice


def amounts(inv) -> tuple[int, int, int, int, int]:
    return (
        inv.credited_minor,
        inv.paid_minor,
        inv.written_off_minor,
        inv.amount_due_minor,
        inv.customer_credit_minor,
    )


# --- the table --------------------------------------------------------------------------------

DOCUMENTED_TABLE = {
    (None, "invoice.created", "draft"),
    ("draft", "invoice.sent", "open"),
    ("draft", "invoice.voided", "void"),
    ("open", "invoice.voided", "void"),
    ("open", "invoice.written_off", "written_off"),
    ("partially_paid", "invoice.written_off", "written_off"),
    ("open", "invoice.credit_note_issued", "open"),
    ("open", "invoice.credit_note_issued", "paid"),
    ("open", "invoice.payment_applied", "partially_paid"),
    ("open", "invoice.payment_applied", "paid"),
    ("partially_paid", "invoice.credit_note_issued", "partially_paid"),
    ("partially_paid", "invoice.credit_note_issued", "paid"),
    ("partially_paid", "invoice.payment_applied", "partially_paid"),
    ("partially_paid", "invoice.payment_applied", "paid"),
    ("paid", "invoice.credit_note_issued", "paid"),
    ("paid", "invoice.payment_applied", "paid"),
}


def test_transition_table_is_the_documented_lifecycle_and_never_stores_overdue():
    rows = transition_table()
    assert len(rows) == len(set(rows)) == 16
    assert set(rows) == DOCUMENTED_TABLE
    assert {t.event_type for t in TRANSITIONS} == set(EVENT_TYPES)
    assert {t.to_state for t in TRANSITIONS} == set(STATES) - {"overdue"}


def path_to(state: str, ev: Script) -> list[InvoiceEvent]:
    """Events that bring an invoice of 10000 to `state`."""
    opened = ev.opened()
    return {
        "draft": lambda: opened[:1],
        "open": lambda: opened,
        "partially_paid": lambda: [*opened, ev("payment_applied", 4_000)],
        "paid": lambda: [*opened, ev("payment_applied", 10_000)],
        "written_off": lambda: [*opened, ev("written_off")],
        "void": lambda: [*opened, ev("voided")],
    }[state]()


def event_for(row, ev: Script, inv) -> InvoiceEvent:
    """The event of `row`, with an amount that makes its condition true."""
    kind = row.event_type.removeprefix("invoice.")
    if kind == "created":
        return ev(kind, 10_000, due_date=DUE)
    if kind in ("credit_note_issued", "payment_applied"):
        settles = row.to_state == "paid" and inv.amount_due_minor
        return ev(kind, inv.amount_due_minor if settles else 1_000)
    return ev(kind)


@pytest.mark.parametrize(
    "row", TRANSITIONS, ids=lambda t: f"{t.from_state}-{t.event_type}-{t.to_state}"
)
def test_every_table_entry_is_applied_to_its_target(row):
    ev = Script()
    inv = None if row.from_state is None else folded(path_to(row.from_state, ev))
    result = apply_invoice_event(inv, event_for(row, ev, inv))
    assert isinstance(result, InvoiceApplied), result
    assert (result.from_state, result.invoice.state) == (row.from_state, row.to_state)


STORED = [s for s in STATES if s != "overdue"]
FORBIDDEN = [
    (state, kind)
    for state in STORED
    for kind in EVENT_TYPES
    if not any(t.from_state == state and t.event_type == kind for t in TRANSITIONS)
]


@pytest.mark.parametrize("state,kind", FORBIDDEN)
def test_every_move_missing_from_the_table_is_rejected_and_keeps_state(state, kind):
    ev = Script()
    inv = folded(path_to(state, ev))
    result = apply_invoice_event(inv, ev(kind.removeprefix("invoice."), 500))
    assert isinstance(result, InvoiceRejected)
    assert result.reason == f"{kind} not allowed from {state}"


def test_payment_before_the_invoice_exists_is_rejected():
    result = apply_invoice_event(None, Script()("payment_applied", 100))
    assert result.reason == "invoice.payment_applied not allowed before invoice.created"


# --- payments, credit notes, write-offs -------------------------------------------------------


def test_partial_then_final_payment_pays_the_invoice():
    ev = Script()
    result = fold_invoice(
        [*ev.opened(), ev("payment_applied", 3_000), ev("payment_applied", 7_000)]
    )
    assert [h.to_state for h in result.history] == ["draft", "open", "partially_paid", "paid"]
    assert amounts(result.invoice) == (0, 10_000, 0, 0, 0)


def test_several_small_payments_keep_it_partially_paid_until_the_last_cent():
    ev = Script()
    events = [*ev.opened(1_000), *(ev("payment_applied", 333) for _ in range(3))]
    inv = folded(events)
    assert (inv.state, inv.amount_due_minor) == ("partially_paid", 1)
    inv = folded([*events, ev("payment_applied", 1, source="card_payment")])
    assert (inv.state, inv.amount_due_minor, inv.paid_minor) == ("paid", 0, 1_000)


def test_credit_note_for_the_rest_turns_a_partially_paid_invoice_paid():
    ev = Script()
    inv = folded([*ev.opened(), ev("payment_applied", 6_000), ev("credit_note_issued", 4_000)])
    assert inv.state == "paid"
    assert amounts(inv) == (4_000, 6_000, 0, 0, 0)


def test_credit_note_alone_can_settle_an_open_invoice():
    ev = Script()
    inv = folded([*ev.opened(), ev("credit_note_issued", 10_000)])
    assert (inv.state, inv.paid_minor, inv.credited_minor) == ("paid", 0, 10_000)


def test_credit_note_beyond_the_amount_due_becomes_customer_credit():
    ev = Script()
    result = apply_invoice_event(
        folded([*ev.opened(), ev("payment_applied", 7_000)]), ev("credit_note_issued", 5_000)
    )
    # 3000 of the credit note clears the receivable, 2000 is owed to the customer.
    assert amounts(result.invoice) == (3_000, 7_000, 0, 0, 2_000)
    assert (result.receivable_delta_minor, result.customer_credit_delta_minor) == (-3_000, 2_000)
    assert (result.applied_minor, result.overpaid_minor) == (3_000, 2_000)


def test_overpayment_goes_to_customer_credit_and_the_receivable_never_goes_negative():
    ev = Script()
    inv = folded([*ev.opened(), ev("payment_applied", 12_500)])
    assert inv.state == "paid"
    assert amounts(inv) == (0, 10_000, 0, 0, 2_500)


def test_payment_on_a_paid_invoice_is_all_customer_credit():
    ev = Script()
    result = apply_invoice_event(folded(path_to("paid", ev)), ev("payment_applied", 900))
    assert result.invoice.state == "paid"
    assert (result.receivable_delta_minor, result.customer_credit_delta_minor) == (0, 900)


def test_write_off_after_partial_payment_writes_off_only_what_is_due():
    ev = Script()
    result = fold_invoice([*path_to("partially_paid", ev), ev("written_off")])
    assert result.invoice.state == "written_off"
    assert amounts(result.invoice) == (0, 4_000, 6_000, 0, 0)


def test_write_off_of_a_paid_invoice_is_rejected():
    ev = Script()
    result = fold_invoice([*path_to("paid", ev), ev("written_off")])
    assert result.invoice.state == "paid"
    assert result.rejections[0].reason == "invoice.written_off not allowed from paid"


@pytest.mark.parametrize("state", ["partially_paid", "paid"])
def test_voiding_an_invoice_with_payments_is_rejected(state):
    ev = Script()
    result = fold_invoice([*path_to(state, ev), ev("voided")])
    assert result.invoice.state == state
    assert result.rejections[0].reason == f"invoice.voided not allowed from {state}"


def test_voiding_an_open_invoice_reverses_what_was_receivable():
    ev = Script()
    inv = folded([*ev.opened(), ev("credit_note_issued", 2_500)])
    result = apply_invoice_event(inv, ev("voided"))
    assert (result.invoice.state, result.invoice.amount_due_minor) == ("void", 0)
    assert result.receivable_delta_minor == -7_500


def test_voiding_a_draft_touches_no_receivable():
    ev = Script()
    result = apply_invoice_event(folded(path_to("draft", ev)), ev("voided"))
    assert (result.invoice.state, result.receivable_delta_minor) == ("void", 0)


@pytest.mark.parametrize("state", ["draft", "void", "written_off"])
def test_payment_on_an_invoice_that_cannot_take_it_is_rejected(state):
    ev = Script()
    result = fold_invoice([*path_to(state, ev), ev("payment_applied", 100)])
    assert result.invoice.state == state
    assert result.invoice.paid_minor == 0
    assert result.rejections[0].reason == f"invoice.payment_applied not allowed from {state}"


def test_payment_in_another_currency_is_rejected():
    ev = Script(currency="EUR")
    result = fold_invoice([*ev.opened(), ev("payment_applied", 100, currency="USD")])
    assert (result.invoice.state, result.invoice.paid_minor) == ("open", 0)
    assert result.rejections[0].reason == "currency USD does not match invoice currency EUR"


@pytest.mark.parametrize(
    "fields,reason",
    [
        ({"amount": 0}, "amount_minor must be a positive int, got 0"),
        ({"amount": -5}, "amount_minor must be a positive int, got -5"),
        ({"amount": None}, "invoice.payment_applied without amount_minor"),
        ({"amount": 5, "currency": None}, "amount_minor 5 without currency"),
        ({"amount": 5, "source": "cheque"},
         "payment source must be one of card_payment, bank_credit, got 'cheque'"),
    ],
)  # fmt: skip
def test_malformed_payment_is_rejected_with_its_reason(fields, reason):
    ev = Script()
    amount = fields.pop("amount")
    result = fold_invoice([*ev.opened(), ev("payment_applied", amount, **fields)])
    assert [r.reason for r in result.rejections] == [reason]
    assert result.invoice.state == "open"


def test_created_needs_amount_and_a_real_currency():
    assert apply_invoice_event(None, Script()("created")).reason == (
        "invoice.created without amount_minor"
    )
    bad = apply_invoice_event(None, Script(currency="EURO")("created", 100))
    assert bad.reason == "unknown or retired currency code 'EURO'"


def test_due_date_that_is_an_instant_is_rejected():
    ev = Script()
    result = apply_invoice_event(None, ev("created", 100, due_date=T0))
    assert result.reason.startswith("due_date must be a date")


def test_sent_may_set_the_due_date_and_records_when_it_was_sent():
    ev = Script()
    created = ev("created", 500, customer_id="cus_9")
    sent = ev("sent", due_date=date(2025, 3, 1))
    inv = folded([created, sent])
    assert (inv.due_date, inv.sent_at, inv.state_since) == (
        date(2025, 3, 1),
        sent.occurred_at,
        sent.occurred_at,
    )


def test_jpy_and_kwd_amounts_are_plain_ints():
    jpy, kwd = Script("inv_j", "JPY"), Script("inv_k", "KWD")
    inv_j = folded([*jpy.opened(15_000), jpy("payment_applied", 15_001)])
    inv_k = folded([*kwd.opened(1_250), kwd("payment_applied", 1_249)])
    assert amounts(inv_j) == (0, 15_000, 0, 0, 1)
    assert (inv_k.state, inv_k.amount_due_minor) == ("partially_paid", 1)


@pytest.mark.parametrize(
    "currency,amount,card,bank,credit",
    [("JPY", 15_000, 4_000, 5_000, 1_000), ("EUR", 98_096, 30_000, 40_000, 8_096),
     ("KWD", 24_022, 10_001, 9_999, 22)],
)  # fmt: skip
def test_partial_card_and_bank_payments_then_credit_note_and_write_off_in_each_exponent(
    currency, amount, card, bank, credit
):
    # Minor units are plain ints whatever the exponent (JPY 0, EUR 2, KWD 3): a card payment,
    # a bank transfer and a credit note leave the rest due, and the write-off takes exactly it.
    ev = Script(currency=currency)
    partial = [
        *ev.opened(amount),
        ev("payment_applied", card, source="card_payment"),
        ev("payment_applied", bank, source="bank_credit"),
        ev("credit_note_issued", credit),
    ]
    inv = folded(partial)
    rest = amount - card - bank - credit
    assert (inv.state, inv.amount_due_minor) == ("partially_paid", rest)
    refused = fold_invoice([*partial, ev("payment_applied", 1, currency="USD")])
    assert refused.invoice == inv
    assert refused.rejections[0].reason == (
        f"currency USD does not match invoice currency {currency}"
    )
    result = apply_invoice_event(inv, ev("written_off"))
    assert result.invoice.state == "written_off"
    assert amounts(result.invoice) == (credit, card + bank, rest, 0, 0)
    assert result.receivable_delta_minor == -rest


def test_fold_orders_by_instant_whatever_the_input_order():
    ev = Script()
    events = [*ev.opened(), ev("payment_applied", 10_000)]
    assert fold_invoice(list(reversed(events))) == fold_invoice(events)


# --- overdue and aging ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "days,bucket",
    [
        (-5, "current"), (0, "current"), (1, "1-30"), (30, "1-30"), (31, "31-60"),
        (60, "31-60"), (61, "61-90"), (90, "61-90"), (91, "90+"), (4_000, "90+"),
    ],
)  # fmt: skip
def test_aging_bucket_boundaries(days, bucket):
    assert aging_bucket(days) == bucket
    assert bucket in AGING_BUCKETS


def test_aging_bucket_refuses_what_is_not_a_whole_number_of_days():
    with pytest.raises(TypeError):
        aging_bucket(1.5)


@pytest.mark.parametrize(
    "report_date,state,days,bucket",
    [
        (date(2025, 2, 8), "open", 0, "current"),
        (DUE, "open", 0, "current"),  # due today is not overdue
        (date(2025, 2, 10), "overdue", 1, "1-30"),
        (date(2025, 3, 11), "overdue", 30, "1-30"),
        (date(2025, 3, 12), "overdue", 31, "31-60"),
        (date(2025, 5, 11), "overdue", 91, "90+"),
    ],
)
def test_open_invoice_is_overdue_only_after_its_due_date(report_date, state, days, bucket):
    inv = folded(Script().opened())
    assert state_as_of(inv, report_date) == state
    assert days_past_due(inv, report_date) == days
    assert aging_bucket(days_past_due(inv, report_date)) == bucket


def test_partially_paid_invoice_goes_overdue_but_paid_written_off_and_void_do_not():
    late = date(2025, 6, 1)
    assert state_as_of(folded(path_to("partially_paid", Script())), late) == "overdue"
    for state in ("paid", "written_off", "void", "draft"):
        inv = folded(path_to(state, Script()))
        assert state_as_of(inv, late) == state
        assert days_past_due(inv, late) == 0


def test_write_off_is_allowed_when_the_invoice_is_overdue():
    ev = Script()
    inv = folded(ev.opened())
    assert state_as_of(inv, date(2025, 9, 1)) == "overdue"
    assert apply_invoice_event(inv, ev("written_off")).invoice.state == "written_off"


def test_invoice_without_due_date_is_never_overdue():
    ev = Script()
    inv = folded([ev("created", 100), ev("sent")])
    assert state_as_of(inv, date(2030, 1, 1)) == "open"
    assert days_past_due(inv, date(2030, 1, 1)) == 0


def test_report_date_must_be_a_date_not_an_instant():
    inv = folded(Script().opened())
    with pytest.raises(TypeError, match="business date"):
        state_as_of(inv, T0)


# --- properties -------------------------------------------------------------------------------

KINDS = [k.removeprefix("invoice.") for k in EVENT_TYPES]


@st.composite
def invoice_streams(draw) -> list[InvoiceEvent]:
    """One invoice's events: usually created and sent first, then a random mix."""
    amount = draw(st.integers(1, 10_000))
    events = [
        InvoiceEvent("e-a", "invoice.created", T0, "inv", "c", amount, "EUR", DUE),
        InvoiceEvent("e-b", "invoice.sent", T0 + timedelta(seconds=1), "inv"),
    ][: draw(st.sampled_from([0, 1, 2, 2, 2, 2]))]
    for i in range(draw(st.integers(0, 15))):
        kind = draw(st.sampled_from(KINDS + ["payment_applied"] * 6 + ["credit_note_issued"] * 2))
        events.append(
            InvoiceEvent(
                f"e{i:02d}",
                f"invoice.{kind}",
                T0 + timedelta(minutes=draw(st.integers(0, 30))),
                "inv",
                None,
                draw(st.one_of(st.integers(1, 4_000), st.integers(1, 4_000), st.integers(-5, 0))),
                draw(st.sampled_from(["EUR", "EUR", "EUR", "GBP", None])),
                None,
                draw(st.sampled_from(["bank_credit", "card_payment", None])),
            )
        )
    return events


@settings(max_examples=200, deadline=None)
@given(invoice_streams(), st.randoms(use_true_random=False))
def test_invoice_fold_invariants(events, rnd):
    result = fold_invoice(events)
    accepted = {h.event_id for h in result.history}
    # Replaying only the accepted events gives the same invoice; input order does not matter.
    assert fold_invoice([e for e in events if e.event_id in accepted])[:2] == result[:2]
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert fold_invoice(shuffled) == result
    # Every step is a table entry and the steps chain.
    table, types = set(transition_table()), {e.event_id: e.type for e in events}
    previous = None
    for h in result.history:
        assert (h.from_state, types[h.event_id], h.to_state) in table
        assert h.from_state == previous
        previous = h.to_state
    inv = result.invoice
    if inv is None:
        return
    # The money adds up: nothing negative, receivable plus what settled it is the amount.
    assert min(amounts(inv)) >= 0
    if inv.state != "void":
        assert inv.amount_minor == sum(amounts(inv)[:4])
    received = sum(
        e.amount_minor
        for e in events
        if e.event_id in accepted
        and e.type in ("invoice.payment_applied", "invoice.credit_note_issued")
    )
    assert received == inv.credited_minor + inv.paid_minor + inv.customer_credit_minor
    assert (inv.state == "paid") == (inv.amount_due_minor == 0 and inv.state not in (
        "void", "written_off"))  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(invoice_streams())
def test_receivable_deltas_sum_to_what_is_still_due(events):
    inv, receivable, credit = None, 0, 0
    for event in sorted(events, key=lambda e: (e.occurred_at, e.event_id)):
        result = apply_invoice_event(inv, event)
        if isinstance(result, InvoiceApplied):
            inv = result.invoice
            receivable += result.receivable_delta_minor
            credit += result.customer_credit_delta_minor
            assert receivable >= 0
    if inv is not None:
        on_books = inv.state not in ("draft", "void")
        assert receivable == (inv.amount_due_minor if on_books else 0)
        assert credit == inv.customer_credit_minor
