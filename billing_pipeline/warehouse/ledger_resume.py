"""Continue aggregates from their stored states with only their new events.

An incremental run (`ledger_scope`) resumes every aggregate whose new events all sort after
the ones already folded, instead of refolding its whole history: the domain folds
(`payments.fold_from`, `lifecycles.fold_invoice`) take the stored state and the new events,
so a resumed aggregate goes through exactly the steps a full refold would take last.

This runs for every payment an event reached since the last run (200k+ a day at 100k
payments a day), so payments fold as frames (`domain.payment_frames`: step k applies every
payment's k-th new event at once), new payments included, and only the few it hands back go
through `payments.fold_from`. Events come from the typed copies (`ledger_keys`), no payload
parsed. Invoices still fold one by one, with the cyclic garbage collector paused
(`gc_paused`).
"""

from __future__ import annotations

import dataclasses
import itertools
import operator
from datetime import datetime
from zoneinfo import ZoneInfo

import duckdb
import polars as pl

from billing_pipeline.domain import invoices, payment_frames, payments
from billing_pipeline.warehouse.ledger_keys import KEYS
from billing_pipeline.warehouse.lifecycles import (
    INVOICE_EVENTS,
    INVOICE_KEYS,
    INVOICE_RESUME,
    PAYMENT_RESUME,
    Folded,
    Rejection,
    collect_payment,
    fold_invoice,
    gc_paused,
)

# The zone DuckDB gives instants read back in a UTC session (`tables.use_utc`).
UTC = ZoneInfo("UTC")
_NEW = "seq > $since and seq <= $upto"
# Resumed payments' new events come from the typed copies (`ledger_keys`): no payload is
# parsed. A resumed key is never chr(0) (`ledger_scope` refolds that one), so it is the
# payload's payment_id. Instants come as UTC wall-clock timestamps, made UTC in the frame.
_PAYMENT_RESUME = f"""
select idempotency_key as event_id, event_type as type,
       timezone('UTC', occurred_at) as occurred_at, payment_key as payment_id, amount_minor,
       currency, processor, processor_ref, invoice_id, customer_id
from {KEYS}
where event_type like 'payment.%' and {_NEW}
  and payment_key in (select key from {PAYMENT_RESUME})
"""
_STORED_PAYMENTS = f"""
select * replace (timezone('UTC', state_since) as state_since) from ledger_store.payment_states
where payment_id in (select key from {PAYMENT_RESUME})
"""
# The window twice: the store's zone maps skip old events, the copies' too.
_INVOICE_RESUME = INVOICE_EVENTS.format(
    scope=f"and seq in ({INVOICE_KEYS}{INVOICE_RESUME}) and {_NEW}) and {_NEW}"
)


def _stored_states(conn, kind: str, scope: str, aggregate, instants: tuple[str, ...]) -> dict:
    """The stored state of each `kind` aggregate listed in the temp table `scope`; `instants`
    are its timestamptz columns."""
    names = [f.name for f in dataclasses.fields(aggregate)]
    select = ", ".join(f"timezone('UTC', {n})" if n in instants else n for n in names)
    at = [names.index(n) for n in instants]
    rows = conn.execute(
        f"select {select} from ledger_store.{kind}_states "
        f"where {kind}_id in (select key from {scope})"
    ).fetchall()
    utc, states = _Utc(), {}
    for row in rows:
        if at:
            row = list(row)
            for i in at:
                row[i] = utc[row[i]]
        states[row[0]] = aggregate(*row)
    return states


def _resume_payments(conn, folded: Folded, window: dict) -> list[invoices.InvoiceEvent]:
    """Payments as frames (`payment_frames`), the few it cannot take one by one; returns the
    card payments their accepted captures apply to invoices."""
    instant = pl.col("state_since").cast(payment_frames.INSTANT)
    stored = conn.sql(_STORED_PAYMENTS).pl().with_columns(instant)
    events = conn.sql(_PAYMENT_RESUME, params=window).pl()
    events = events.with_columns(pl.col("occurred_at").cast(payment_frames.INSTANT))
    fold = payment_frames.fold_frames(stored, events)
    folded.payment_state_frames.append(fold.states)
    folded.payment_history_frames.append(fold.history)
    folded.accepted_payment_frames.append(fold.history.select("event_id"))
    folded.resumed_payments.update(fold.states["payment_id"].to_list())
    folded.rejections.extend(
        Rejection(event_id, f"payment {payment_id}", reason)
        for event_id, payment_id, reason in fold.rejections.iter_rows()
    )
    card_applications = _card_applications(fold)
    if fold.irregular:
        odd = pl.col("payment_id").is_in(fold.irregular)
        states = {row[0]: payments.PaymentAggregate(*row) for row in stored.filter(odd).rows()}
        captures: dict[str, tuple[int, object]] = {}
        rows = events.filter(odd).select(payments.EVENT_COLUMNS).sort("payment_id").rows()
        for payment_id, group in itertools.groupby(rows, key=operator.itemgetter(3)):
            group_events = [payments.PaymentEvent(*row) for row in group]
            for event in group_events:
                if event.type == "payment.captured":
                    captures[event.event_id] = (event.amount_minor, event.occurred_at)
            folded.resumed_payments.add(payment_id)
            result = payments.fold_from(states.get(payment_id), group_events)
            collect_payment(result, captures, folded, card_applications)
    return card_applications


def _card_applications(fold: payment_frames.FrameFold) -> list[invoices.InvoiceEvent]:
    """Each accepted capture of a payment that names an invoice pays that invoice
    (`lifecycles._card_applications`, for the frame fold)."""
    named = fold.states.filter(pl.col("invoice_id").is_not_null() & (pl.col("invoice_id") != ""))
    captures = fold.history.filter(pl.col("type") == "payment.captured").join(
        named.select("payment_id", "invoice_id", "customer_id", "currency"), on="payment_id"
    )
    rows = captures.select(
        "event_id",
        "occurred_at",
        "invoice_id",
        "customer_id",
        "amount_minor",
        "currency",
        "payment_id",
    ).rows()
    return [
        invoices.InvoiceEvent(event_id, "invoice.payment_applied", at, invoice, customer, amount,
                              currency, source="card_payment", source_ref=payment_id)
        for event_id, at, invoice, customer, amount, currency, payment_id in rows
    ]  # fmt: skip


class _Utc(dict):
    """UTC wall-clock timestamp -> the instant DuckDB reads back in a UTC session. Memoized:
    events share instants (whole seconds) and `replace` costs more than a dict lookup."""

    def __missing__(self, wall: datetime | None) -> datetime | None:
        aware = self[wall] = None if wall is None else wall.replace(tzinfo=UTC)
        return aware


@gc_paused
def resume(conn: duckdb.DuckDBPyConnection, folded: Folded, since: int, upto: int) -> None:
    """Fold the new events (seq in (since, upto]) of the resumable aggregates onto their
    stored states, adding to `folded`. Exact because every new event of such an aggregate
    sorts after all its folded ones (`ledger_scope`), so a full refold would replay the same
    steps first, and because a resumed payment's invoice and customer were already known
    (its earlier captures' applications do not change)."""
    window = {"since": since, "upto": upto}
    card_applications = _resume_payments(conn, folded, window)
    by_invoice: dict[str | None, list[invoices.InvoiceEvent]] = {}
    cursor = conn.execute(_INVOICE_RESUME, window)
    assert tuple(d[0] for d in cursor.description) == invoices.EVENT_COLUMNS  # positional rows
    for values in cursor.fetchall():
        event = invoices.InvoiceEvent(*values)
        by_invoice.setdefault(event.invoice_id, []).append(event)
    for event in card_applications:
        by_invoice.setdefault(event.invoice_id, []).append(event)
    stored_invoices = _stored_states(
        conn, "invoice", INVOICE_RESUME, invoices.InvoiceAggregate, ("sent_at", "state_since")
    )
    for invoice_id, events in by_invoice.items():
        folded.resumed_invoices.add(invoice_id)
        fold_invoice(events, folded, stored_invoices.get(invoice_id))
