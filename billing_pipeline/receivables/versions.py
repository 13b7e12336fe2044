"""Each invoice as it was known on every date: the bitemporal side of aging.

An invoice event becomes *known* on the later of the business date it happened on and the
business date whose files delivered it (`store.events.partition_date`): a bank credit booked on
Monday that reaches us in Tuesday's statement is not part of Monday's aging. Aging as of a date
must use only what was known then, so that a report for an earlier date never changes when
later files arrive.

Taking the last known history row of the full fold is not enough: a late event that happened
*before* an already known one changes the rows after it. So each version is a fresh fold
(`domain.invoices.fold_invoice`) of exactly the events known by its date. Invoices have a
handful of events, so folding once per distinct knowledge date is cheap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from billing_pipeline.domain.invoices import InvoiceAggregate, InvoiceEvent, fold_invoice

# Stored states that carry a receivable; a draft is not on the books until it is sent.
RECEIVABLE_STATES = ("open", "partially_paid")

VERSION_COLUMNS = (
    "invoice_id", "known_from", "customer_id", "currency", "amount_minor", "amount_due_minor",
    "state", "due_date", "paid_minor", "credited_minor", "written_off_minor",
    "customer_credit_minor", "state_since",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class KnownEvent:
    """An accepted invoice event and the business date from which it was known."""

    event: InvoiceEvent
    known_on: date


@dataclass(frozen=True, slots=True)
class InvoiceVersion:
    invoice_id: str
    known_from: date  # valid until the invoice's next version (or for ever)
    customer_id: str | None
    currency: str
    amount_minor: int
    amount_due_minor: int  # the receivable: 0 unless open or partially paid
    state: str  # a stored state; 'overdue' is decided per report date
    due_date: date | None
    paid_minor: int
    credited_minor: int
    written_off_minor: int
    customer_credit_minor: int
    state_since: datetime

    def as_row(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in VERSION_COLUMNS)


def known_on(business_date: date, recorded_on: date) -> date:
    """The first business date on which an event can count: it happened and we had it."""
    return max(business_date, recorded_on)


def event_from_history(row: Mapping[str, Any]) -> InvoiceEvent:
    """The invoice event behind one `ledger_store.invoice_history` row.

    History keeps the invoice *after* each event and what the event did to the receivable and
    to customer credit, so the event's own amount is what it took off the receivable plus what
    it added to credit; a created event's amount is the invoice amount. `source` is only
    checked by the fold, never used, so bank credits are told from card payments by their id.
    """
    kind = row["event_type"]
    amount = None
    if kind == "invoice.created":
        amount = row["amount_minor"]
    elif kind in ("invoice.payment_applied", "invoice.credit_note_issued"):
        amount = row["customer_credit_delta_minor"] - row["receivable_delta_minor"]
    source = None
    if kind == "invoice.payment_applied":
        is_bank = str(row["event_id"]).startswith("recon:cash_applied:")
        source = "bank_credit" if is_bank else "card_payment"
    return InvoiceEvent(
        event_id=row["event_id"],
        type=kind,
        occurred_at=row["occurred_at"],
        invoice_id=row["invoice_id"],
        customer_id=row["customer_id"],
        amount_minor=amount,
        currency=row["currency"] if amount is not None else None,
        due_date=row["due_date"] if kind in ("invoice.created", "invoice.sent") else None,
        source=source,
    )


def _version(invoice: InvoiceAggregate, known_from: date) -> InvoiceVersion:
    due = invoice.amount_due_minor if invoice.state in RECEIVABLE_STATES else 0
    return InvoiceVersion(
        invoice.invoice_id, known_from, invoice.customer_id, invoice.currency,
        invoice.amount_minor, due, invoice.state, invoice.due_date, invoice.paid_minor,
        invoice.credited_minor, invoice.written_off_minor, invoice.customer_credit_minor,
        invoice.state_since,
    )  # fmt: skip


def versions_of(events: Iterable[KnownEvent]) -> list[InvoiceVersion]:
    """One invoice's versions: a fold of the events known by each date on which one became
    known. A date that changes nothing (its events were all refused) adds no version."""
    known = sorted(events, key=lambda k: k.known_on)
    versions: list[InvoiceVersion] = []
    for on in sorted({k.known_on for k in known}):
        invoice = fold_invoice([k.event for k in known if k.known_on <= on]).invoice
        if invoice is None:
            continue
        version = _version(invoice, on)
        previous = versions[-1] if versions else None
        if previous is None or previous.as_row()[2:] != version.as_row()[2:]:
            versions.append(version)
    return versions


def all_versions(events: Iterable[KnownEvent]) -> list[InvoiceVersion]:
    """Versions of every invoice, ordered by invoice and date (a deterministic output)."""
    by_invoice: dict[str, list[KnownEvent]] = {}
    for known in events:
        by_invoice.setdefault(known.event.invoice_id, []).append(known)
    return [v for invoice_id in sorted(by_invoice) for v in versions_of(by_invoice[invoice_id])]
