"""The payment lifecycle: a state machine kept as data, and a pure fold of payment events.

`TRANSITIONS` is the one place that says which event may move a payment from which state to
which. Everything else (apply, fold, the SQL that reads `transition_table()`) follows it.

Choices the table encodes, all strict: events are applied in (occurred_at, event_id) order and
anything the table does not list is rejected with a reason while the payment keeps its state.

- A payment starts with `payment.created` and nothing else (from state None).
- `failed` and `voided` (canceled or expired authorization) only before any capture.
- Capture from `authorized`; a further capture from `captured` is a partial capture: it adds
  to the captured amount and keeps the state (a self-loop).
- `settled` (a processor charge line) from `captured` or `partially_refunded`; `reconciled`
  (settled money matched to a bank credit) from `settled` only.
- A refund from captured/settled/reconciled/partially_refunded goes to `refunded` when the
  refunded total reaches the captured total, else to `partially_refunded`.
- A dispute opens from the same four states; a won dispute returns to the state before it,
  a lost one ends in `charged_back`.
- `failed` and `voided` are terminal. `refunded` and `charged_back` take no further state,
  but a settlement or bank match arriving after a refund or dispute is acknowledged as a
  self-loop (the processor still settles the charge; the payout still reaches the bank).

Amount guards: amounts are positive ints; captures never exceed a known authorized amount,
refunds never exceed captured, a dispute never exceeds captured - refunded; an event's currency
must be the payment's. `payment.settled` must therefore carry the charge currency, not the
settlement (payout) currency. Settled and reconciled amounts are not compared with the captured
amount here: that difference is reconciliation's discrepancy to report, not a lifecycle rule.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol, TypeVar

from billing_pipeline.domain.money import MoneyError, exponent

STATES = (
    "created",
    "authorized",
    "captured",
    "settled",
    "reconciled",
    "failed",
    "voided",
    "partially_refunded",
    "refunded",
    "disputed",
    "charged_back",
)
EVENT_TYPES = (
    "payment.created",
    "payment.authorized",
    "payment.captured",
    "payment.failed",
    "payment.voided",
    "payment.refunded",
    "payment.dispute_opened",
    "payment.dispute_won",
    "payment.dispute_lost",
    "payment.settled",
    "payment.reconciled",
)


class Transition(NamedTuple):
    from_state: str | None  # None: the payment (or invoice) does not exist yet
    event_type: str
    to_state: str
    condition: str  # when an event has several targets, which one applies


_REFUNDABLE = ("captured", "settled", "reconciled", "partially_refunded")
_SETTLED_LATE = ("refunded", "disputed", "charged_back")
_RECONCILED_LATE = ("partially_refunded", "refunded", "disputed", "charged_back")
_PARTIAL = "refunded total < captured total"
_FULL = "refunded total == captured total"

TRANSITIONS: tuple[Transition, ...] = (
    Transition(None, "payment.created", "created", ""),
    Transition("created", "payment.authorized", "authorized", ""),
    Transition("created", "payment.failed", "failed", ""),
    Transition("created", "payment.voided", "voided", ""),
    Transition("authorized", "payment.failed", "failed", ""),
    Transition("authorized", "payment.voided", "voided", ""),
    Transition("authorized", "payment.captured", "captured", ""),
    Transition("captured", "payment.captured", "captured", "additional partial capture"),
    Transition("captured", "payment.settled", "settled", ""),
    Transition("partially_refunded", "payment.settled", "settled", ""),
    Transition("settled", "payment.reconciled", "reconciled", ""),
    *(
        Transition(state, "payment.refunded", target, condition)
        for state in _REFUNDABLE
        for target, condition in (("partially_refunded", _PARTIAL), ("refunded", _FULL))
    ),
    *(Transition(state, "payment.dispute_opened", "disputed", "") for state in _REFUNDABLE),
    *(
        Transition("disputed", "payment.dispute_won", state, f"state before dispute was {state}")
        for state in _REFUNDABLE
    ),
    Transition("disputed", "payment.dispute_lost", "charged_back", ""),
    # Money keeps moving after a refund or dispute: the processor still settles the charge and
    # the bank still receives the payout. Those facts are acknowledged, and the state keeps
    # the more telling refund or dispute outcome (a self-loop, like a partial capture).
    *(
        Transition(state, "payment.settled", state, "settlement after refund or dispute")
        for state in _SETTLED_LATE
    ),
    *(
        Transition(state, "payment.reconciled", state, "bank match after refund or dispute")
        for state in _RECONCILED_LATE
    ),
)

# (from_state, event_type) -> the states it may lead to; built once, read per event.
_TARGETS: dict[tuple[str | None, str], tuple[str, ...]] = {}
for _t in TRANSITIONS:
    _TARGETS[(_t.from_state, _t.event_type)] = (
        *_TARGETS.get((_t.from_state, _t.event_type), ()),
        _t.to_state,
    )
_EVENT_TYPE_SET = frozenset(EVENT_TYPES)
# Events whose amount is the point of the event; on the others an amount is informational.
_AMOUNT_REQUIRED = frozenset({"payment.captured", "payment.refunded"})


def transition_table() -> list[tuple[str | None, str, str]]:
    """The table as (from_state, event_type, to_state) rows, for SQL and docs."""
    return [(t.from_state, t.event_type, t.to_state) for t in TRANSITIONS]


@dataclass(frozen=True, slots=True)
class PaymentEvent:
    event_id: str
    type: str
    occurred_at: datetime
    payment_id: str
    amount_minor: int | None = None
    currency: str | None = None
    processor: str | None = None
    processor_ref: str | None = None
    invoice_id: str | None = None
    customer_id: str | None = None

    @classmethod
    def from_row(cls, row: PaymentEvent | Mapping[str, Any] | Sequence[Any]) -> PaymentEvent:
        """From a mapping (extra keys ignored) or a tuple in `EVENT_COLUMNS` order."""
        if isinstance(row, PaymentEvent):
            return row
        if isinstance(row, Mapping):
            return cls(*(row.get(name) for name in EVENT_COLUMNS))
        return cls(*row)


EVENT_COLUMNS = tuple(f.name for f in dataclasses.fields(PaymentEvent))


@dataclass(frozen=True, slots=True)
class PaymentAggregate:
    payment_id: str
    state: str
    state_since: datetime  # occurred_at of the last event that changed the state
    currency: str
    amount_authorized_minor: int | None  # None: no authorized amount known, captures unbounded
    amount_captured_minor: int
    amount_refunded_minor: int
    amount_disputed_minor: int  # of the open or lost dispute; 0 once a dispute is won
    state_before_dispute: str | None  # set only while disputed: where a won dispute returns
    processor: str | None
    processor_ref: str | None
    invoice_id: str | None
    customer_id: str | None


@dataclass(frozen=True, slots=True)
class Applied:
    payment: PaymentAggregate
    from_state: str | None


@dataclass(frozen=True, slots=True)
class Rejected:
    event_id: str | None
    reason: str


class HistoryRow(NamedTuple):
    payment_id: str
    from_state: str | None
    to_state: str
    event_id: str
    occurred_at: datetime


class Rejection(NamedTuple):
    event_id: str | None
    payment_id: str | None
    reason: str


class FoldResult(NamedTuple):
    payment: PaymentAggregate | None  # None when no payment.created was accepted
    history: list[HistoryRow]  # every accepted event, self-loops included
    rejections: list[Rejection]


def _is_amount(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _create(event: PaymentEvent) -> PaymentAggregate | str:
    if not isinstance(event.payment_id, str) or not event.payment_id:
        return "payment.created without payment_id"
    if event.currency is None:
        return "payment.created without currency"
    try:
        exponent(event.currency)
    except MoneyError as exc:
        return str(exc)
    return PaymentAggregate(
        event.payment_id, "created", event.occurred_at, event.currency, None, 0, 0, 0, None,
        event.processor, event.processor_ref, event.invoice_id, event.customer_id,
    )  # fmt: skip


def _next(p: PaymentAggregate, e: PaymentEvent, targets: tuple[str, ...]) -> PaymentAggregate | str:
    """The payment after `e`, or why `e` is refused. `targets` are the table's options."""
    kind, amount = e.type, e.amount_minor
    authorized, captured = p.amount_authorized_minor, p.amount_captured_minor
    refunded, disputed = p.amount_refunded_minor, p.amount_disputed_minor
    before = p.state_before_dispute
    to_state = targets[0]
    if kind == "payment.authorized" and amount is not None:
        authorized = amount
    elif kind == "payment.captured":
        captured += amount
        if authorized is not None and captured > authorized:
            already = p.amount_captured_minor
            return f"capture {amount} exceeds authorized {authorized} - captured {already}"
    elif kind == "payment.refunded":
        refunded += amount
        if refunded > captured:
            already = p.amount_refunded_minor
            return f"refund {amount} exceeds captured {captured} - refunded {already}"
        to_state = "refunded" if refunded == captured else "partially_refunded"
    elif kind == "payment.dispute_opened":
        open_amount = captured - refunded
        if amount is not None and amount > open_amount:
            return f"dispute {amount} exceeds captured {captured} - refunded {refunded}"
        disputed = open_amount if amount is None else amount
        before = p.state
    elif kind == "payment.dispute_won":
        to_state, disputed, before = p.state_before_dispute or "", 0, None
    elif kind == "payment.dispute_lost":
        before = None  # nothing to return to: the disputed amount stays as charged back
    if to_state not in targets:
        return f"{kind} from {p.state} to {to_state!r} is not in the transition table"
    # One positional construction per event: dataclasses.replace was 40% of the fold time.
    # Reference fields fill in when a later event knows them (e.g. processor_ref at capture).
    return PaymentAggregate(
        p.payment_id,
        to_state,
        p.state_since if to_state == p.state else e.occurred_at,
        p.currency,
        authorized,
        captured,
        refunded,
        disputed,
        before,
        e.processor if p.processor is None else p.processor,
        e.processor_ref if p.processor_ref is None else p.processor_ref,
        e.invoice_id if p.invoice_id is None else p.invoice_id,
        e.customer_id if p.customer_id is None else p.customer_id,
    )


def apply(payment: PaymentAggregate | None, event: PaymentEvent) -> Applied | Rejected:
    """Apply one event to a payment (None before it exists). Never raises on bad data."""
    kind = event.type
    if kind not in _EVENT_TYPE_SET:
        return Rejected(event.event_id, f"unknown payment event type {kind!r}")
    from_state = None if payment is None else payment.state
    targets = _TARGETS.get((from_state, kind))
    if targets is None:
        where = "before payment.created" if payment is None else f"from {from_state}"
        return Rejected(event.event_id, f"{kind} not allowed {where}")
    amount = event.amount_minor
    if amount is not None and not _is_amount(amount):
        return Rejected(event.event_id, f"amount_minor must be a positive int, got {amount!r}")
    if amount is None and kind in _AMOUNT_REQUIRED:
        return Rejected(event.event_id, f"{kind} without amount_minor")
    if amount is not None and event.currency is None:
        return Rejected(event.event_id, f"amount_minor {amount} without currency")
    if payment is None:
        outcome = _create(event)
    elif event.payment_id != payment.payment_id:
        outcome = f"event for payment {event.payment_id!r} applied to {payment.payment_id!r}"
    elif event.currency is not None and event.currency != payment.currency:
        outcome = f"currency {event.currency} does not match payment currency {payment.currency}"
    else:
        outcome = _next(payment, event, targets)
    if isinstance(outcome, str):
        return Rejected(event.event_id, outcome)
    return Applied(outcome, from_state)


class _Event(Protocol):
    event_id: str
    occurred_at: datetime


E = TypeVar("E", bound=_Event)


def _unusable(event: Any) -> str | None:
    """Why an event cannot even be ordered (so it never reaches `apply`)."""
    if not isinstance(event.event_id, str) or not event.event_id:
        return "event_id missing"
    at = event.occurred_at
    if not isinstance(at, datetime) or at.utcoffset() is None:
        return f"occurred_at must be a timezone-aware instant, got {at!r}"
    return None


def sequence_events(events: Iterable[E]) -> tuple[list[E], list[tuple[E, str]]]:
    """One aggregate's events in fold order, (occurred_at, event_id), and those refused.

    Shared by every lifecycle fold (payments, invoices): an event without id or timezone-aware
    instant cannot be ordered; an event_id seen again with the same payload is a duplicate
    (applied once); seen with different payloads, which copy won would depend on input order,
    so every copy is refused. Neither list depends on the input order.
    """
    usable: list[E] = []
    refused: list[tuple[E, str]] = []
    for event in events:
        reason = _unusable(event)
        if reason is None:
            usable.append(event)
        else:
            refused.append((event, reason))
    # Repeated ids are rare: only then group copies (comparing payloads was most of the time).
    if len({event.event_id for event in usable}) != len(usable):
        usable = _without_copies(usable, refused)
    if refused:
        refused.sort(key=lambda pair: (repr(pair[0].event_id), repr(pair[0]), pair[1]))
    usable.sort(key=_FOLD_ORDER)
    return usable, refused


# (occurred_at, event_id): unique once copies are gone, so the order is total.
_FOLD_ORDER = operator.attrgetter("occurred_at", "event_id")


def _without_copies(events: list[E], refused: list[tuple[E, str]]) -> list[E]:
    """One event per id; every copy of an id seen with different payloads goes to `refused`."""
    copies: dict[str, list[E]] = {}
    for event in events:
        copies.setdefault(event.event_id, []).append(event)
    usable = []
    for same_id in copies.values():
        first = same_id[0]
        if all(copy == first for copy in same_id):
            usable.append(first)
            refused += [(first, "duplicate event_id")] * (len(same_id) - 1)
        else:
            refused += [(e, "event_id seen with different payloads") for e in same_id]
    return usable


def fold_from(payment: PaymentAggregate | None, events: Iterable[PaymentEvent]) -> FoldResult:
    """Fold `events` onto `payment` (None: from the start), in fold order.

    Folding onto a stored state is how an incremental run continues a payment whose new
    events all sort after the ones already folded: the same steps a fold from the start takes.
    """
    ordered, refused = sequence_events(events)
    rejections = [Rejection(e.event_id, e.payment_id, reason) for e, reason in refused]
    history: list[HistoryRow] = []
    for event in ordered:
        result = apply(payment, event)
        if isinstance(result, Rejected):
            rejections.append(Rejection(event.event_id, event.payment_id, result.reason))
            continue
        payment = result.payment
        history.append(
            HistoryRow(
                payment.payment_id, result.from_state, payment.state, event.event_id,
                event.occurred_at,
            )
        )  # fmt: skip
    return FoldResult(payment, history, rejections)


def fold(events: Iterable[PaymentEvent | Mapping[str, Any] | Sequence[Any]]) -> FoldResult:
    """Fold one payment's events in (occurred_at, event_id) order, whatever the input order.

    Rejected events (by the table, a guard, a missing id or instant, a duplicate id) are
    reported and never move the state. An event_id seen twice with the same payload applies
    once; seen with different payloads, every copy is rejected. The result, rejections
    included, does not depend on the input order.
    """
    return fold_from(None, [PaymentEvent.from_row(row) for row in events])


def fold_many(
    rows: Iterable[PaymentEvent | Mapping[str, Any] | Sequence[Any]],
) -> Iterator[FoldResult]:
    """Fold many payments from rows sorted by payment_id (then time), one result per payment.

    Streams: only one payment's events are held at a time, so a caller can feed a DuckDB
    cursor in chunks, e.g. `chain.from_iterable(iter(lambda: cur.fetchmany(50_000), []))`
    over `SELECT <EVENT_COLUMNS> ... ORDER BY payment_id, occurred_at, event_id` (DuckDB's
    default byte-order sort of VARCHAR agrees with Python's str order). Rows without a
    payment_id (wherever they come) yield a result of their own with the rejection. A
    payment_id that comes back after a larger one means the input was not sorted: ValueError,
    because its events would otherwise be folded as two payments.
    """
    group: list[PaymentEvent] = []
    for row in rows:
        event = PaymentEvent.from_row(row)
        payment_id = event.payment_id
        if not isinstance(payment_id, str) or not payment_id:
            yield FoldResult(None, [], [Rejection(event.event_id, None, "payment_id missing")])
            continue
        if group and payment_id != group[0].payment_id:
            if payment_id < group[0].payment_id:
                raise ValueError(
                    f"rows not sorted by payment_id: {payment_id!r} after {group[0].payment_id!r}"
                )
            yield fold_from(None, group)
            group = []
        group.append(event)
    if group:
        yield fold_from(None, group)
