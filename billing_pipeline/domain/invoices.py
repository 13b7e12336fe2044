"""The invoice lifecycle: a state machine kept as data, a pure fold, and aging as of a date.

`TRANSITIONS` is the one place that says which event may move an invoice between the stored
states draft, open, partially_paid, paid, written_off and void. `overdue` is never stored: it
is what an open or partially paid invoice is *as of a report date* after its due date
(`state_as_of`), so "written off from overdue" is the stored open/partially_paid row.

Choices, all strict (anything the table does not list is rejected with a reason):
- `invoice.created` makes a draft with its amount (a positive int), currency and due date;
  `invoice.sent` opens it (and may carry the due date if the draft had none or a new one).
- Credit notes and payments reduce the amount due, from open, partially paid or paid. What goes
  beyond the amount due becomes customer credit (never a negative receivable); an invoice
  whose amount due reaches 0 is paid. A credit note or payment on a paid invoice is all credit.
- `invoice.payment_applied` is not in the billing event log: it is derived (a captured card
  payment with an invoice_id, or cash application of a bank credit) and says which (`source`).
- Void only while nothing is paid (draft, open); write-off of what is due from open or
  partially paid. Amounts on sent, voided and written_off events are ignored: these act on
  the invoice as it is.
Invariant (not void): amount = credited + paid + written_off + amount_due, all >= 0, where
credited and paid count only what reduced the receivable; the excess is customer_credit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from billing_pipeline.domain.money import MoneyError, exponent
from billing_pipeline.domain.payments import Transition, sequence_events

STATES = ("draft", "open", "partially_paid", "paid", "overdue", "written_off", "void")
EVENT_TYPES = (
    "invoice.created",
    "invoice.sent",
    "invoice.voided",
    "invoice.written_off",
    "invoice.credit_note_issued",
    "invoice.payment_applied",
)
PAYMENT_SOURCES = ("card_payment", "bank_credit")
AGING_BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")

_REDUCIBLE = ("open", "partially_paid")
_SETTLES = "amount due reaches 0"

TRANSITIONS: tuple[Transition, ...] = (
    Transition(None, "invoice.created", "draft", ""),
    Transition("draft", "invoice.sent", "open", ""),
    Transition("draft", "invoice.voided", "void", ""),
    Transition("open", "invoice.voided", "void", "nothing paid (else partially_paid)"),
    *(Transition(s, "invoice.written_off", "written_off", "amount due > 0") for s in _REDUCIBLE),
    Transition("open", "invoice.credit_note_issued", "open", "amount due stays > 0"),
    Transition("open", "invoice.payment_applied", "partially_paid", "amount due stays > 0"),
    *(
        Transition("partially_paid", kind, "partially_paid", "amount due stays > 0")
        for kind in ("invoice.credit_note_issued", "invoice.payment_applied")
    ),
    *(
        Transition(s, kind, "paid", _SETTLES)
        for s in _REDUCIBLE
        for kind in ("invoice.credit_note_issued", "invoice.payment_applied")
    ),
    *(
        Transition("paid", kind, "paid", "all of it becomes customer credit")
        for kind in ("invoice.credit_note_issued", "invoice.payment_applied")
    ),
)

_TARGETS: dict[tuple[str | None, str], tuple[str, ...]] = {}
for _t in TRANSITIONS:
    key = (_t.from_state, _t.event_type)
    _TARGETS[key] = (*_TARGETS.get(key, ()), _t.to_state)
_REDUCES_DUE = frozenset({"invoice.credit_note_issued", "invoice.payment_applied"})


def transition_table() -> list[tuple[str | None, str, str]]:
    """The table as (from_state, event_type, to_state) rows, for SQL and docs."""
    return [(t.from_state, t.event_type, t.to_state) for t in TRANSITIONS]


@dataclass(frozen=True, slots=True)
class InvoiceEvent:
    event_id: str
    type: str
    occurred_at: datetime
    invoice_id: str
    customer_id: str | None = None
    amount_minor: int | None = None
    currency: str | None = None
    due_date: date | None = None
    source: str | None = None  # payment_applied: card_payment | bank_credit
    source_ref: str | None = None  # payment_applied: payment_id or bank line reference

    @classmethod
    def from_row(cls, row: InvoiceEvent | Mapping[str, Any] | Sequence[Any]) -> InvoiceEvent:
        """From a mapping (extra keys ignored) or a tuple in `EVENT_COLUMNS` order."""
        if isinstance(row, InvoiceEvent):
            return row
        if isinstance(row, Mapping):
            return cls(*(row.get(name) for name in EVENT_COLUMNS))
        return cls(*row)


EVENT_COLUMNS = tuple(f.name for f in dataclasses.fields(InvoiceEvent))


@dataclass(frozen=True, slots=True)
class InvoiceAggregate:
    invoice_id: str
    customer_id: str | None
    currency: str
    amount_minor: int  # original amount
    credited_minor: int  # credit notes, the part that reduced the receivable
    paid_minor: int  # payments applied, the part that reduced the receivable
    written_off_minor: int
    amount_due_minor: int
    customer_credit_minor: int  # credit notes and payments beyond the amount due
    state: str  # a stored state: never 'overdue' (see state_as_of)
    due_date: date | None
    sent_at: datetime | None
    state_since: datetime


@dataclass(frozen=True, slots=True)
class InvoiceApplied:
    invoice: InvoiceAggregate
    from_state: str | None
    # What this event did to the receivable (+ sent, - credit/payment/write-off/void of an
    # open invoice) and to customer credit: the amounts a posting rule needs.
    receivable_delta_minor: int
    customer_credit_delta_minor: int

    @property
    def applied_minor(self) -> int:
        """What the event took off the receivable (posting's `applied_minor`)."""
        return max(0, -self.receivable_delta_minor)

    @property
    def overpaid_minor(self) -> int:
        """What the event added to customer credit (posting's `overpaid_minor`)."""
        return self.customer_credit_delta_minor


@dataclass(frozen=True, slots=True)
class InvoiceRejected:
    event_id: str | None
    reason: str


class InvoiceHistoryRow(NamedTuple):
    invoice_id: str
    from_state: str | None
    to_state: str
    event_id: str
    occurred_at: datetime


class InvoiceRejection(NamedTuple):
    event_id: str | None
    invoice_id: str | None
    reason: str


class InvoiceFoldResult(NamedTuple):
    invoice: InvoiceAggregate | None
    history: list[InvoiceHistoryRow]
    rejections: list[InvoiceRejection]


def _is_amount(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _is_date(value: object) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


def _create(e: InvoiceEvent) -> InvoiceAggregate | str:
    if not isinstance(e.invoice_id, str) or not e.invoice_id:
        return "invoice.created without invoice_id"
    if e.amount_minor is None:
        return "invoice.created without amount_minor"
    if e.currency is None:
        return "invoice.created without currency"
    try:
        exponent(e.currency)
    except MoneyError as exc:
        return str(exc)
    amount = e.amount_minor
    return InvoiceAggregate(
        e.invoice_id, e.customer_id, e.currency, amount, 0, 0, 0, amount, 0, "draft", e.due_date,
        None, e.occurred_at,
    )  # fmt: skip


def _next(inv: InvoiceAggregate, e: InvoiceEvent) -> tuple[InvoiceAggregate, int, int] | str:
    """The invoice after `e` with its receivable and customer-credit deltas, or why not."""
    kind = e.type
    changes: dict[str, Any] = {}
    receivable, credit = 0, 0
    if kind == "invoice.sent":
        changes.update(state="open", sent_at=e.occurred_at)
        if e.due_date is not None:
            changes["due_date"] = e.due_date
        receivable = inv.amount_due_minor
    elif kind == "invoice.voided":
        changes.update(state="void", amount_due_minor=0)
        receivable = -inv.amount_due_minor if inv.state != "draft" else 0
    elif kind == "invoice.written_off":
        changes.update(state="written_off", amount_due_minor=0)
        changes["written_off_minor"] = inv.written_off_minor + inv.amount_due_minor
        receivable = -inv.amount_due_minor
    elif kind in _REDUCES_DUE:
        if kind == "invoice.payment_applied" and e.source not in PAYMENT_SOURCES:
            return f"payment source must be one of {', '.join(PAYMENT_SOURCES)}, got {e.source!r}"
        amount = e.amount_minor
        applied = min(amount, inv.amount_due_minor)
        due = inv.amount_due_minor - applied
        receivable, credit = -applied, amount - applied
        field = "paid_minor" if kind == "invoice.payment_applied" else "credited_minor"
        changes[field] = getattr(inv, field) + applied
        paid = changes.get("paid_minor", inv.paid_minor)
        changes.update(
            amount_due_minor=due,
            customer_credit_minor=inv.customer_credit_minor + credit,
            state="paid" if due == 0 else ("partially_paid" if paid else "open"),
        )
    to_state = changes.get("state", inv.state)
    if to_state not in _TARGETS[(inv.state, kind)]:
        return f"{kind} from {inv.state} to {to_state!r} is not in the transition table"
    if to_state != inv.state:
        changes["state_since"] = e.occurred_at
    if inv.customer_id is None and e.customer_id is not None:
        changes["customer_id"] = e.customer_id
    return dataclasses.replace(inv, **changes), receivable, credit


def apply_invoice_event(
    invoice: InvoiceAggregate | None, event: InvoiceEvent
) -> InvoiceApplied | InvoiceRejected:
    """Apply one event to an invoice (None before it exists). Never raises on bad data."""
    kind = event.type
    if kind not in EVENT_TYPES:
        return InvoiceRejected(event.event_id, f"unknown invoice event type {kind!r}")
    from_state = None if invoice is None else invoice.state
    if (from_state, kind) not in _TARGETS:
        where = "before invoice.created" if invoice is None else f"from {from_state}"
        return InvoiceRejected(event.event_id, f"{kind} not allowed {where}")
    amount = event.amount_minor
    uses_amount = kind in _REDUCES_DUE or kind == "invoice.created"
    if uses_amount and amount is None:
        outcome: Any = f"{kind} without amount_minor"
    elif uses_amount and not _is_amount(amount):
        outcome = f"amount_minor must be a positive int, got {amount!r}"
    elif uses_amount and event.currency is None:
        outcome = f"amount_minor {amount} without currency"
    elif event.due_date is not None and not _is_date(event.due_date):
        outcome = f"due_date must be a date, got {event.due_date!r}"
    elif invoice is None:
        outcome = _create(event)
    elif event.invoice_id != invoice.invoice_id:
        outcome = f"event for invoice {event.invoice_id!r} applied to {invoice.invoice_id!r}"
    elif event.currency is not None and event.currency != invoice.currency:
        outcome = f"currency {event.currency} does not match invoice currency {invoice.currency}"
    else:
        outcome = _next(invoice, event)
    if isinstance(outcome, str):
        return InvoiceRejected(event.event_id, outcome)
    if isinstance(outcome, InvoiceAggregate):  # created: nothing receivable until sent
        return InvoiceApplied(outcome, None, 0, 0)
    new, receivable, credit = outcome
    return InvoiceApplied(new, from_state, receivable, credit)


def fold_invoice(
    events: Iterable[InvoiceEvent | Mapping[str, Any] | Sequence[Any]],
) -> InvoiceFoldResult:
    """Fold one invoice's events in (occurred_at, event_id) order, whatever the input order.

    Same rules as the payment fold (`payments.sequence_events`): rejected events are reported
    and never move the state; duplicates apply once; conflicting copies are all rejected.
    """
    ordered, refused = sequence_events(InvoiceEvent.from_row(row) for row in events)
    rejections = [InvoiceRejection(e.event_id, e.invoice_id, why) for e, why in refused]
    invoice: InvoiceAggregate | None = None
    history: list[InvoiceHistoryRow] = []
    for event in ordered:
        result = apply_invoice_event(invoice, event)
        if isinstance(result, InvoiceRejected):
            rejections.append(InvoiceRejection(event.event_id, event.invoice_id, result.reason))
            continue
        invoice = result.invoice
        history.append(
            InvoiceHistoryRow(
                invoice.invoice_id, result.from_state, invoice.state, event.event_id,
                event.occurred_at,
            )
        )  # fmt: skip
    return InvoiceFoldResult(invoice, history, rejections)


def _check_report_date(report_date: date) -> None:
    # A datetime is an instant: which business date it falls on depends on a zone we don't know.
    if not _is_date(report_date):
        raise TypeError(f"report_date must be a business date, got {report_date!r}")


def state_as_of(invoice: InvoiceAggregate, report_date: date) -> str:
    """The invoice's state on `report_date`: 'overdue' when open or partially paid after its
    due date. Fold only the events up to that date for an as-of view of the past."""
    return "overdue" if days_past_due(invoice, report_date) > 0 else invoice.state


def days_past_due(invoice: InvoiceAggregate, report_date: date) -> int:
    """Whole days an open or partially paid invoice is past its due date (0 if not, or settled)."""
    _check_report_date(report_date)
    if invoice.state not in _REDUCIBLE or invoice.due_date is None:
        return 0
    return max(0, (report_date - invoice.due_date).days)


def aging_bucket(days_past_due: int) -> str:
    """'current' (not yet due or due today), '1-30', '31-60', '61-90' or '90+'."""
    if not isinstance(days_past_due, int) or isinstance(days_past_due, bool):
        raise TypeError(f"days_past_due must be an int, got {days_past_due!r}")
    if days_past_due <= 0:
        return "current"
    if days_past_due <= 30:
        return "1-30"
    if days_past_due <= 60:
        return "31-60"
    if days_past_due <= 90:
        return "61-90"
    return "90+"
