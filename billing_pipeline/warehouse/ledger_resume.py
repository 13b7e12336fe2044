"""Continue aggregates from their stored states with only their new events.

An incremental run (`ledger_scope`) resumes every aggregate whose new events all sort after
the ones already folded, instead of refolding its whole history: the domain folds
(`payments.fold_from`, `lifecycles.fold_invoice`) take the stored state and the new events,
so a resumed aggregate goes through exactly the steps a full refold would take last.

This runs for every payment an event reached since the last run (200k+ a day at 100k
payments a day), so it is fed cheaply: events from the typed copies (`ledger_keys`), no
payload parsed; instants read as UTC wall-clock timestamps and given their zone back once
per distinct instant; the cyclic garbage collector paused while folding (`gc_paused`).
"""

from __future__ import annotations

import dataclasses
import itertools
import operator
from datetime import datetime
from zoneinfo import ZoneInfo

import duckdb

from billing_pipeline.domain import invoices, payments
from billing_pipeline.warehouse.ledger_keys import KEYS
from billing_pipeline.warehouse.lifecycles import (
    INVOICE_EVENTS,
    INVOICE_KEYS,
    INVOICE_RESUME,
    PAYMENT_RESUME,
    Folded,
    collect_payment,
    fold_invoice,
    gc_paused,
)

# The zone DuckDB gives instants read back in a UTC session (`tables.use_utc`).
UTC = ZoneInfo("UTC")
_NEW = "seq > $since and seq <= $upto"
# Resumed payments' new events come from the typed copies (`ledger_keys`): no payload is
# parsed. A resumed key is never chr(0) (`ledger_scope` refolds that one), so it is the
# payload's payment_id. Instants come as UTC wall-clock timestamps: DuckDB builds
# zone-aware datetimes several times slower (`_Utc` puts the zone back).
_PAYMENT_RESUME = f"""
select idempotency_key, event_type, timezone('UTC', occurred_at), payment_key, amount_minor,
       currency, processor, processor_ref, invoice_id, customer_id
from {KEYS}
where event_type like 'payment.%' and {_NEW}
  and payment_key in (select key from {PAYMENT_RESUME})
order by payment_key
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
    stored = _stored_states(
        conn, "payment", PAYMENT_RESUME, payments.PaymentAggregate, ("state_since",)
    )
    rows = conn.execute(_PAYMENT_RESUME, window).fetchall()
    captures: dict[str, tuple[int, object]] = {}
    card_applications: list[invoices.InvoiceEvent] = []
    results, utc = [], _Utc()
    for payment_id, group in itertools.groupby(rows, key=operator.itemgetter(3)):
        events = [
            payments.PaymentEvent(key, kind, utc[at], pid, amount, cur, proc, ref, inv, cust)
            for key, kind, at, pid, amount, cur, proc, ref, inv, cust in group
        ]
        for event in events:
            if event.type == "payment.captured":
                captures[event.event_id] = (event.amount_minor, event.occurred_at)
        folded.resumed_payments.add(payment_id)
        results.append(payments.fold_from(stored.get(payment_id), events))
    for result in results:
        collect_payment(result, captures, folded, card_applications)
    by_invoice: dict[str | None, list[invoices.InvoiceEvent]] = {}
    for values in (cursor := conn.execute(_INVOICE_RESUME, window)).fetchall():
        event = invoices.InvoiceEvent.from_row(
            dict(zip([d[0] for d in cursor.description], values, strict=True))
        )
        by_invoice.setdefault(event.invoice_id, []).append(event)
    for event in card_applications:
        by_invoice.setdefault(event.invoice_id, []).append(event)
    stored_invoices = _stored_states(
        conn, "invoice", INVOICE_RESUME, invoices.InvoiceAggregate, ("sent_at", "state_since")
    )
    for invoice_id, events in by_invoice.items():
        folded.resumed_invoices.add(invoice_id)
        fold_invoice(events, folded, stored_invoices.get(invoice_id))
