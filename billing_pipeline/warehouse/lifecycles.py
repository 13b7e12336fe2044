"""Fold the event store's payment and invoice events through the domain state machines.

The folds are the domain's (`domain.payments`, `domain.invoices`); this module only feeds
them from DuckDB in a deterministic order and collects what they say: each aggregate's
state, its history, the events the tables refused (for quarantine), and for every accepted
invoice event the receivable and customer-credit amounts that posting needs. Continuing
aggregates from their stored states, in incremental runs, is `ledger_resume`.
"""

from __future__ import annotations

import functools
import gc
import itertools
import operator
from dataclasses import dataclass, field
from typing import NamedTuple

import duckdb
import polars as pl

from billing_pipeline.domain import invoice_frames, invoices, payment_frames, payments
from billing_pipeline.warehouse.ledger_keys import KEYS

# An incremental run folds only some aggregates: their keys (null ids as NULL_KEY) are in
# these temp tables, each with one varchar column `key` (see `ledger_scope`).
PAYMENT_SCOPE, INVOICE_SCOPE = "ledger_scope_payments", "ledger_scope_invoices"
# Aggregates whose new events all come after their folded ones resume from the stored state
# instead (`ledger_resume`): keys in these temp tables, new events those in the run's window.
PAYMENT_RESUME, INVOICE_RESUME = "ledger_resume_payments", "ledger_resume_invoices"
NULL_KEY = chr(0)

_PAYMENT_EVENTS = """
select idempotency_key as event_id, event_type as type, occurred_at,
       payload->>'payment_id' as payment_id,
       try_cast(payload->>'amount_minor' as bigint) as amount_minor,
       payload->>'currency' as currency,
       payload->>'processor' as processor,
       payload->>'processor_ref' as processor_ref,
       payload->>'invoice_id' as invoice_id,
       payload->>'customer_id' as customer_id
from store.events
where event_type like 'payment.%' {scope}
order by payment_id nulls first, occurred_at, event_id
"""
# A scoped fold reads its payments from the typed copies (`ledger_keys`), which hold every
# field the fold needs: no payload is parsed. Payments with an id fold as frames from the
# start (`fold_payment_frames`); those without one (key chr(0), or an empty id) are read from
# their payloads, where the raw value lives, and folded one by one, which rejects them.
NO_ID_KEYS = "(chr(0), '')"
# Payment events for a frame fold (`fold_payment_frames`), from the typed copies. Instants
# come as UTC wall-clock timestamps, made UTC in the frame (`payment_events`).
PAYMENT_TYPED = f"""
select idempotency_key as event_id, event_type as type,
       timezone('UTC', occurred_at) as occurred_at, payment_key as payment_id, amount_minor,
       currency, processor, processor_ref, invoice_id, customer_id
from {KEYS}
where event_type like 'payment.%' {{scope}}
"""
_PAYMENT_SCOPED = PAYMENT_TYPED.format(
    scope=f"and payment_key not in {NO_ID_KEYS} "
    f"and payment_key in (select key from {PAYMENT_SCOPE})"
)
_NO_ID_SCOPED = f"""and seq in (
    select seq from {KEYS} where event_type like 'payment.%' and payment_key in {NO_ID_KEYS}
      and payment_key in (select key from {PAYMENT_SCOPE}))"""
_NO_PAYMENTS = pl.DataFrame(schema=payment_frames.STATE_SCHEMA)

INVOICE_EVENTS = """
select idempotency_key as event_id, event_type as type, occurred_at,
       payload->>'invoice_id' as invoice_id,
       payload->>'customer_id' as customer_id,
       try_cast(payload->>'amount_minor' as bigint) as amount_minor,
       payload->>'currency' as currency,
       try_cast(payload->>'due_date' as date) as due_date,
       null as source, null as source_ref
from store.events
where event_type like 'invoice.%' {scope}
union all
-- Bank credits that reconciliation applied to an invoice.
select idempotency_key, 'invoice.payment_applied', occurred_at,
       payload->>'invoice_id', null,
       try_cast(payload->>'applied_minor' as bigint)
           + coalesce(try_cast(payload->>'overpaid_minor' as bigint), 0),
       payload->>'currency', null, 'bank_credit', payload->>'bank_line_key'
from store.events
where event_type = 'recon.cash_applied' {scope}
"""
# `INVOICE_EVENTS` from `ledger_keys`' typed copies, which hold each of its fields parsed the
# same way: a scoped fold parses no payload. Parsing the picked events' payloads took ~2 s
# of the 1M world's day-3 ledger step (benchmarks/RESULTS.md, session 19).
INVOICE_TYPED = f"""
select idempotency_key as event_id, event_type as type, occurred_at, invoice_id, customer_id,
       amount_minor, currency, due_date, null as source, null as source_ref
from {KEYS}
where event_type like 'invoice.%' {{scope}}
union all
select idempotency_key, 'invoice.payment_applied', occurred_at, invoice_id, null,
       applied_minor + coalesce(overpaid_minor, 0), currency, null, 'bank_credit', bank_line_key
from {KEYS}
where event_type = 'recon.cash_applied' {{scope}}
"""
IN_INVOICE_SCOPE = "and coalesce(invoice_id, chr(0)) in (select key from {})"
_INVOICE_SCOPE = INVOICE_TYPED.format(scope=IN_INVOICE_SCOPE.format(INVOICE_SCOPE))


class InvoiceStep(NamedTuple):
    """One accepted invoice event and the invoice right after it: enough to age an invoice
    as of any date without folding again."""

    invoice_id: str
    from_state: str | None
    to_state: str
    event_id: str
    event_type: str
    occurred_at: object
    customer_id: str | None
    currency: str
    due_date: object
    amount_minor: int
    amount_due_minor: int
    paid_minor: int
    credited_minor: int
    written_off_minor: int
    customer_credit_minor: int
    receivable_delta_minor: int
    customer_credit_delta_minor: int


@dataclass
class Rejection:
    event_id: str | None
    aggregate: str
    reason: str


@dataclass
class Folded:
    payment_states: list[payments.PaymentAggregate] = field(default_factory=list)
    payment_history: list[payments.HistoryRow] = field(default_factory=list)
    invoice_states: list[invoices.InvoiceAggregate] = field(default_factory=list)
    invoice_history: list[InvoiceStep] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    # event_id -> (receivable delta, customer credit delta) of every accepted invoice event,
    # card-payment applications keyed by the capture's event id.
    invoice_effects: dict[str, tuple[int, int]] = field(default_factory=dict)
    accepted_payment_events: set[str] = field(default_factory=set)
    # Resumed aggregates: their rows here are only the new ones (states: all of them).
    resumed_payments: set[str] = field(default_factory=set)
    resumed_invoices: set[str] = field(default_factory=set)
    # Aggregates folded as frames (`domain.payment_frames`, `domain.invoice_frames`): more
    # rows of the states and histories, kept as frames because they are written as frames.
    payment_state_frames: list[pl.DataFrame] = field(default_factory=list)
    payment_history_frames: list[pl.DataFrame] = field(default_factory=list)
    invoice_state_frames: list[pl.DataFrame] = field(default_factory=list)
    invoice_history_frames: list[pl.DataFrame] = field(default_factory=list)
    # More accepted payment events (column event_id) and invoice effects (event_id,
    # receivable_delta_minor, customer_credit_delta_minor), kept as frames: those of the frame
    # fold, and the stored ones an incremental run reads back (`ledger_delta`). Posting wants
    # frames, so a million ids need not become Python strings and back.
    accepted_payment_frames: list[pl.DataFrame] = field(default_factory=list)
    invoice_effect_frames: list[pl.DataFrame] = field(default_factory=list)


def gc_paused(function):
    """Run `function` with the cyclic garbage collector paused. A fold allocates millions of
    small acyclic objects (events, states, history rows) that all stay alive, so every
    collection rescans them and frees nothing: a quarter of a 450k-event fold's time.
    Reference counting frees memory as usual meanwhile."""

    @functools.wraps(function)
    def paused(*args, **kwargs):
        enabled = gc.isenabled()
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return paused


@gc_paused
def fold_all(conn: duckdb.DuckDBPyConnection, scoped: bool = False) -> Folded:
    """Fold every aggregate, or with `scoped` only those whose keys are in the scope tables
    (each from its full history). A scoped invoice's card payments must be in scope too."""
    folded = Folded()
    card_applications: list[invoices.InvoiceEvent] = []
    captures: dict[str, tuple[int, object]] = {}  # capture event_id -> (amount, occurred_at)
    # Most incremental runs refold nothing (no late events): skip reading the store then.
    if not scoped or _any(conn, PAYMENT_SCOPE):
        if scoped:
            events = payment_events(conn, _PAYMENT_SCOPED)
            applied, _ = fold_payment_frames(folded, _NO_PAYMENTS, events)
            card_applications += invoice_events(applied)
        cursor = conn.execute(_PAYMENT_EVENTS.format(scope=_NO_ID_SCOPED if scoped else ""))
        columns = [d[0] for d in cursor.description]
        assert tuple(columns) == payments.EVENT_COLUMNS, columns  # rows are built positionally

        def rows():
            while batch := cursor.fetchmany(50_000):
                for values in batch:
                    event = payments.PaymentEvent(*values)
                    if event.type == "payment.captured":
                        captures[event.event_id] = (event.amount_minor, event.occurred_at)
                    yield event

        for result in payments.fold_many(rows()):
            collect_payment(result, captures, folded, card_applications)
    if not scoped or card_applications or _any(conn, INVOICE_SCOPE):
        _fold_invoices(conn, card_applications, folded, scoped)
    return folded


def payment_events(conn: duckdb.DuckDBPyConnection, sql: str, params=None) -> pl.DataFrame:
    """The rows of a `PAYMENT_TYPED` query as a frame fold takes them."""
    events = conn.sql(sql, params=params).pl()
    return events.with_columns(pl.col("occurred_at").cast(payment_frames.INSTANT))


def fold_payment_frames(
    folded: Folded, stored: pl.DataFrame, events: pl.DataFrame
) -> tuple[pl.DataFrame, list[str]]:
    """Fold `events` (ids never empty) onto the `stored` payment states (none: from the start)
    as frames (`payment_frames`), and the few it hands back one by one, into `folded`.
    Returns the card payments their accepted captures apply to invoices
    (`invoice_frames.EVENT_SCHEMA`) and the ids of the payments folded."""
    fold = payment_frames.fold_frames(stored, events)
    folded.payment_state_frames.append(fold.states)
    folded.payment_history_frames.append(fold.history)
    folded.accepted_payment_frames.append(fold.history.select("event_id"))
    folded.rejections.extend(
        Rejection(event_id, f"payment {payment_id}", reason)
        for event_id, payment_id, reason in fold.rejections.iter_rows()
    )
    applied = [_frame_card_applications(fold)]
    folded_ids = fold.states["payment_id"].to_list()
    if fold.irregular:
        odd = pl.col("payment_id").is_in(fold.irregular)
        states = {row[0]: payments.PaymentAggregate(*row) for row in stored.filter(odd).rows()}
        captures: dict[str, tuple[int, object]] = {}
        odd_applications: list[invoices.InvoiceEvent] = []
        rows = events.filter(odd).select(payments.EVENT_COLUMNS).sort("payment_id").rows()
        for payment_id, group in itertools.groupby(rows, key=operator.itemgetter(3)):
            group_events = [payments.PaymentEvent(*row) for row in group]
            for event in group_events:
                if event.type == "payment.captured":
                    captures[event.event_id] = (event.amount_minor, event.occurred_at)
            folded_ids.append(payment_id)
            result = payments.fold_from(states.get(payment_id), group_events)
            collect_payment(result, captures, folded, odd_applications)
        applied.append(_event_frame(odd_applications))
    return pl.concat(applied), folded_ids


def invoice_events(frame: pl.DataFrame) -> list[invoices.InvoiceEvent]:
    return [invoices.InvoiceEvent(*row) for row in frame.select(invoices.EVENT_COLUMNS).rows()]


def _event_frame(events: list[invoices.InvoiceEvent]) -> pl.DataFrame:
    rows = [tuple(getattr(e, name) for name in invoices.EVENT_COLUMNS) for e in events]
    return pl.DataFrame(rows, schema=invoice_frames.EVENT_SCHEMA, orient="row")


def _frame_card_applications(fold: payment_frames.FrameFold) -> pl.DataFrame:
    """Each accepted capture of a payment that names an invoice pays that invoice
    (`_card_applications`, for the frame fold)."""
    named = fold.states.filter(pl.col("invoice_id").is_not_null() & (pl.col("invoice_id") != ""))
    captures = fold.history.filter(pl.col("type") == "payment.captured").join(
        named.select("payment_id", "invoice_id", "customer_id", "currency"), on="payment_id"
    )
    return captures.select(
        "event_id",
        type=pl.lit("invoice.payment_applied"),
        occurred_at="occurred_at",
        invoice_id="invoice_id",
        customer_id="customer_id",
        amount_minor="amount_minor",
        currency="currency",
        due_date=pl.lit(None, dtype=pl.Date),
        source=pl.lit("card_payment"),
        source_ref="payment_id",
    ).cast(invoice_frames.EVENT_SCHEMA)


def _any(conn: duckdb.DuckDBPyConnection, scope: str) -> bool:
    return bool(conn.execute(f"select exists (from {scope})").fetchall()[0][0])


def collect_payment(result, captures, folded: Folded, card_applications: list) -> None:
    # Called once per payment (100k+ a run): the common case, no rejection, stays cheap.
    if result.payment is not None:
        folded.payment_states.append(result.payment)
        if result.payment.invoice_id:
            card_applications.extend(_card_applications(result, captures))
    folded.payment_history.extend(result.history)
    if result.rejections:
        folded.rejections.extend(
            Rejection(r.event_id, f"payment {r.payment_id}", r.reason) for r in result.rejections
        )
    folded.accepted_payment_events.update(map(_EVENT_ID, result.history))


_EVENT_ID = operator.attrgetter("event_id")


def _card_applications(
    result: payments.FoldResult, captures: dict[str, tuple[int, object]]
) -> list[invoices.InvoiceEvent]:
    """Each accepted capture of a payment that names an invoice pays that invoice."""
    payment = result.payment
    if payment is None or not payment.invoice_id:
        return []
    return [
        invoices.InvoiceEvent(
            event_id=row.event_id,
            type="invoice.payment_applied",
            occurred_at=row.occurred_at,
            invoice_id=payment.invoice_id,
            customer_id=payment.customer_id,
            amount_minor=captures[row.event_id][0],
            currency=payment.currency,
            source="card_payment",
            source_ref=payment.payment_id,
        )
        for row in result.history
        if row.event_id in captures
    ]


def _fold_invoices(conn, card_applications, folded: Folded, scoped: bool) -> None:
    cursor = conn.execute(_INVOICE_SCOPE if scoped else INVOICE_EVENTS.format(scope=""))
    assert tuple(d[0] for d in cursor.description) == invoices.EVENT_COLUMNS  # positional rows
    by_invoice: dict[str | None, list[invoices.InvoiceEvent]] = {}
    for row in cursor.fetchall():
        event = invoices.InvoiceEvent(*row)
        by_invoice.setdefault(event.invoice_id, []).append(event)
    for event in card_applications:
        by_invoice.setdefault(event.invoice_id, []).append(event)
    for invoice_id in sorted(by_invoice, key=lambda i: (i is None, i or "")):
        fold_invoice(by_invoice[invoice_id], folded)


def fold_invoice(
    events: list[invoices.InvoiceEvent],
    folded: Folded,
    invoice: invoices.InvoiceAggregate | None = None,
) -> None:
    """Fold `events` onto `invoice` (None: from the start)."""
    ordered, refused = payments.sequence_events(events)
    for event, reason in refused:
        folded.rejections.append(Rejection(event.event_id, f"invoice {event.invoice_id}", reason))
    for event in ordered:
        result = invoices.apply_invoice_event(invoice, event)
        if isinstance(result, invoices.InvoiceRejected):
            folded.rejections.append(
                Rejection(event.event_id, f"invoice {event.invoice_id}", result.reason)
            )
            continue
        invoice = result.invoice
        folded.invoice_history.append(
            InvoiceStep(
                invoice.invoice_id, result.from_state, invoice.state, event.event_id, event.type,
                event.occurred_at, invoice.customer_id, invoice.currency, invoice.due_date,
                invoice.amount_minor, invoice.amount_due_minor, invoice.paid_minor,
                invoice.credited_minor, invoice.written_off_minor, invoice.customer_credit_minor,
                result.receivable_delta_minor, result.customer_credit_delta_minor,
            )
        )  # fmt: skip
        folded.invoice_effects[event.event_id] = (
            result.receivable_delta_minor,
            result.customer_credit_delta_minor,
        )
    if invoice is not None:
        folded.invoice_states.append(invoice)
