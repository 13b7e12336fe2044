"""Continue aggregates from their stored states with only their new events.

An incremental run (`ledger_scope`) resumes every aggregate whose new events all sort after
the ones already folded, instead of refolding its whole history: the domain folds
(`payments.fold_from`, `lifecycles.fold_invoice`) take the stored state and the new events,
so a resumed aggregate goes through exactly the steps a full refold would take last.

This runs for every payment an event reached since the last run (200k+ a day at 100k
payments a day), so payments fold as frames (`domain.payment_frames`: step k applies every
payment's k-th new event at once), new payments included, and only the few it hands back go
through `payments.fold_from`. Events come from the typed copies (`ledger_keys`), no payload
parsed. Invoices fold as frames the same way (`domain.invoice_frames`): their new events and
the card payments the payments' captures apply; the few it hands back fold one by one
(`lifecycles.fold_invoice`).
"""

from __future__ import annotations

import duckdb
import polars as pl

from billing_pipeline.domain import invoice_frames, invoices, payment_frames
from billing_pipeline.warehouse.lifecycles import (
    IN_INVOICE_SCOPE,
    INVOICE_RESUME,
    INVOICE_TYPED,
    PAYMENT_RESUME,
    PAYMENT_TYPED,
    Folded,
    Rejection,
    fold_invoice,
    fold_payment_frames,
    gc_paused,
    payment_events,
)

_NEW = "seq > $since and seq <= $upto"
# Resumed payments' new events come from the typed copies (`ledger_keys`): no payload is
# parsed. A resumed key is never chr(0) or empty (`ledger_scope` refolds those), so it is the
# payload's payment_id.
_PAYMENT_RESUME = PAYMENT_TYPED.format(
    scope=f"and {_NEW} and payment_key in (select key from {PAYMENT_RESUME})"
)
_STORED_PAYMENTS = f"""
select * replace (timezone('UTC', state_since) as state_since) from ledger_store.payment_states
where payment_id in (select key from {PAYMENT_RESUME})
"""
_STORED_INVOICES = f"""
select * replace (timezone('UTC', sent_at) as sent_at, timezone('UTC', state_since) as state_since)
from ledger_store.invoice_states where invoice_id in (select key from {INVOICE_RESUME})
"""
_INVOICE_RESUME = INVOICE_TYPED.format(
    scope=f"{IN_INVOICE_SCOPE.format(INVOICE_RESUME)} and {_NEW}"
)


def _resume_payments(conn, folded: Folded, window: dict) -> pl.DataFrame:
    """Payments as frames (`lifecycles.fold_payment_frames`); returns the card payments their
    accepted captures apply to invoices (`invoice_frames.EVENT_SCHEMA`)."""
    instant = pl.col("state_since").cast(payment_frames.INSTANT)
    stored = conn.sql(_STORED_PAYMENTS).pl().with_columns(instant)
    events = payment_events(conn, _PAYMENT_RESUME, window)
    card_applications, resumed = fold_payment_frames(folded, stored, events)
    folded.resumed_payments.update(resumed)
    return card_applications


@gc_paused
def resume(conn: duckdb.DuckDBPyConnection, folded: Folded, since: int, upto: int) -> None:
    """Fold the new events (seq in (since, upto]) of the resumable aggregates onto their
    stored states, adding to `folded`. Exact because every new event of such an aggregate
    sorts after all its folded ones (`ledger_scope`), so a full refold would replay the same
    steps first, and because a resumed payment's invoice and customer were already known
    (its earlier captures' applications do not change)."""
    window = {"since": since, "upto": upto}
    card_applications = _resume_payments(conn, folded, window)
    events = pl.concat(
        [conn.sql(_INVOICE_RESUME, params=window).pl().cast(invoice_frames.EVENT_SCHEMA),
         card_applications]
    )  # fmt: skip
    stored = conn.sql(_STORED_INVOICES).pl().cast(invoice_frames.STATE_SCHEMA)
    fold = invoice_frames.fold_frames(stored, events)
    folded.invoice_state_frames.append(fold.states)
    folded.invoice_history_frames.append(fold.history)
    folded.invoice_effect_frames.append(
        fold.history.select("event_id", "receivable_delta_minor", "customer_credit_delta_minor")
    )
    folded.resumed_invoices.update(events["invoice_id"].unique().to_list())
    folded.rejections.extend(
        Rejection(event_id, f"invoice {invoice_id}", reason)
        for event_id, invoice_id, reason in fold.rejections.iter_rows()
    )
    if fold.irregular:  # one by one, as `lifecycles.fold_invoice` folds them
        odd = pl.col("invoice_id").is_in(fold.irregular, nulls_equal=True)
        states = {
            row[0]: invoices.InvoiceAggregate(*row)
            for row in stored.filter(odd).select(invoice_frames.STATE_COLUMNS).rows()
        }
        by_invoice: dict[str | None, list[invoices.InvoiceEvent]] = {}
        for row in events.filter(odd).select(invoices.EVENT_COLUMNS).rows():
            by_invoice.setdefault(row[3], []).append(invoices.InvoiceEvent(*row))
        for invoice_id, invoice_events in by_invoice.items():
            fold_invoice(invoice_events, folded, states.get(invoice_id))
