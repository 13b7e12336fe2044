"""The invoice fold over frames: many invoices' new events onto their stored states at once.

An incremental ledger run continues every invoice an event reached since the last run from
its stored state (`ledger_resume`): 200k+ invoices a day at 1M payments a day, most with one
new event (a card payment applied, an invoice sent). Folding them one
`invoices.apply_invoice_event` at a time cost ~25 us an invoice in Python. As for payments
(`payment_frames`), step k applies the k-th new event of every invoice at once.
`invoices.apply_invoice_event` stays the definition: the rules below are its rules, checked in
its order, with its rejection reasons word for word (tests/domain/test_invoice_frames.py
folds random histories both ways and compares states, steps, effects and rejections).

Invoices a step cannot take as they are go back to the caller (`FrameFold.irregular`), to be
folded one by one: an event without id, instant or invoice id, an id seen twice, an unknown
event type or payment source (their reasons quote the raw value), or more than `MAX_STEPS`
new events.
"""

from __future__ import annotations

import dataclasses

import polars as pl

from billing_pipeline.domain import invoices
from billing_pipeline.domain.payment_frames import (
    INSTANT,
    MAX_STEPS,
    FrameFold,
    currency_problems,
    final_states,
    number_steps,
    stack_steps,
    start_states,
    updated,
    with_current,
)

_AMOUNTS = ("amount_minor", "credited_minor", "paid_minor", "written_off_minor",
            "amount_due_minor", "customer_credit_minor")  # fmt: skip
_INSTANTS = ("occurred_at", "sent_at", "state_since")
_DATES = ("due_date",)


def _dtype(name: str) -> pl.DataType:
    if name in _INSTANTS:
        return INSTANT
    if name in _DATES:
        return pl.Date()
    return pl.Int64() if name in _AMOUNTS else pl.Utf8()


STATE_SCHEMA = {f.name: _dtype(f.name) for f in dataclasses.fields(invoices.InvoiceAggregate)}
EVENT_SCHEMA = {name: _dtype(name) for name in invoices.EVENT_COLUMNS}
STATE_COLUMNS = list(STATE_SCHEMA)
# `lifecycles.InvoiceStep`: the invoice after each accepted event, and what the event did.
STEP_SCHEMA = {
    "invoice_id": pl.Utf8, "from_state": pl.Utf8, "to_state": pl.Utf8, "event_id": pl.Utf8,
    "event_type": pl.Utf8, "occurred_at": INSTANT, "customer_id": pl.Utf8, "currency": pl.Utf8,
    "due_date": pl.Date, "amount_minor": pl.Int64, "amount_due_minor": pl.Int64,
    "paid_minor": pl.Int64, "credited_minor": pl.Int64, "written_off_minor": pl.Int64,
    "customer_credit_minor": pl.Int64, "receivable_delta_minor": pl.Int64,
    "customer_credit_delta_minor": pl.Int64,
}  # fmt: skip
_REJECTION_SCHEMA = {"event_id": pl.Utf8, "invoice_id": pl.Utf8, "reason": pl.Utf8}

_CREATED, _SENT = "invoice.created", "invoice.sent"
_VOIDED, _WRITTEN_OFF = "invoice.voided", "invoice.written_off"
_PAYMENT, _CREDIT_NOTE = "invoice.payment_applied", "invoice.credit_note_issued"
_USES_AMOUNT = [_CREATED, _PAYMENT, _CREDIT_NOTE]
# Event fields that share a name with a state field are read as e_<name>.
_SHARED = ("customer_id", "amount_minor", "currency", "due_date")


def _targets() -> pl.DataFrame:
    """(from_state, type) -> the table's targets; creation is the null state's row."""
    targets: dict[tuple[str | None, str], list[str]] = {}
    for from_state, kind, to_state in invoices.transition_table():
        targets.setdefault((from_state, kind), []).append(to_state)
    return pl.DataFrame(
        [(s, k, t) for (s, k), t in targets.items()],
        schema={"state": pl.Utf8, "type": pl.Utf8, "targets": pl.List(pl.Utf8)},
        orient="row",
    )


_TARGETS = _targets()


def fold_frames(states: pl.DataFrame, events: pl.DataFrame) -> FrameFold:
    """Fold `events` (`invoices.EVENT_COLUMNS`) onto `states` (`STATE_COLUMNS`, one row per
    invoice), in (occurred_at, event_id) order per invoice. `FrameFold.history` has the
    `STEP_SCHEMA` columns; rejections name the invoice in `invoice_id`."""
    events = events.select(pl.col(n).cast(t) for n, t in EVENT_SCHEMA.items())
    states = states.select(pl.col(n).cast(t) for n, t in STATE_SCHEMA.items())
    odd = (
        (
            pl.col("event_id").is_null()
            | pl.col("occurred_at").is_null()
            | ~pl.col("type").is_in(invoices.EVENT_TYPES)
            | ((pl.col("type") == _PAYMENT) & ~pl.col("source").is_in(invoices.PAYMENT_SOURCES))
        ).any()
        | (pl.col("event_id").n_unique() < pl.len())
        | (pl.len() > MAX_STEPS)
        | pl.col("invoice_id").is_null().any()
        | (pl.col("invoice_id") == "").any()
    )
    events, regular, irregular = number_steps(events, "invoice_id", odd)
    events = events.rename({name: f"e_{name}" for name in _SHARED})
    current = start_states(regular, states, "invoice_id")
    problems = currency_problems(events.filter(pl.col("type") == _CREATED)["e_currency"])
    history, rejections = [], []
    for step in range(MAX_STEPS):
        batch = events.filter(pl.col("step") == step)
        if batch.is_empty():
            break
        outcome = (
            with_current(batch, current, "invoice_id")
            .join(_TARGETS, on=["state", "type"], how="left", nulls_equal=True)
            .join(problems, on="e_currency", how="left")
            .with_columns(_effect())
            .with_columns(_to_state())
            .with_columns(_reason())
        )
        accepted = outcome.filter(pl.col("reason").is_null())
        rejections.append(outcome.filter(pl.col("reason").is_not_null()).select(
            "event_id", "invoice_id", "reason", "_pid", "step"
        ))  # fmt: skip
        after = accepted.select("_pid", "step", *_next_state(), *_step_facts())
        history.append(after.select("_pid", "step", *STEP_SCHEMA))
        current = updated(current, after.select("_pid", *STATE_COLUMNS), "invoice_id")
    return FrameFold(
        states=final_states(current, STATE_COLUMNS),
        history=stack_steps(history, STEP_SCHEMA),
        rejections=stack_steps(rejections, _REJECTION_SCHEMA),
        irregular=irregular.sort().to_list(),
    )


def _applied() -> pl.Expr:
    """What a payment or credit note takes off the amount due (`invoices._next`)."""
    return pl.min_horizontal("e_amount_minor", "amount_due_minor")


def _effect() -> list[pl.Expr]:
    """What the event does to the receivable and to customer credit, as `invoices._next`
    says (a creation: nothing; a rejected event's values are never used)."""
    kind, due = pl.col("type"), pl.col("amount_due_minor")
    receivable = (
        pl.when(pl.col("state").is_null())
        .then(0)
        .when(kind == _SENT)
        .then(due)
        .when(kind == _VOIDED)
        .then(pl.when(pl.col("state") != "draft").then(-due).otherwise(0))
        .when(kind == _WRITTEN_OFF)
        .then(-due)
        .when(kind.is_in([_PAYMENT, _CREDIT_NOTE]))
        .then(-_applied())
        .otherwise(0)
    )
    credit = (
        pl.when(pl.col("state").is_not_null() & kind.is_in([_PAYMENT, _CREDIT_NOTE]))
        .then(pl.col("e_amount_minor") - _applied())
        .otherwise(0)
    )
    return [
        receivable.cast(pl.Int64).alias("receivable_delta_minor"),
        credit.cast(pl.Int64).alias("customer_credit_delta_minor"),
    ]


def _new_paid() -> pl.Expr:
    paid = pl.col("paid_minor")
    return pl.when(pl.col("type") == _PAYMENT).then(paid + _applied()).otherwise(paid)


def _to_state() -> pl.Expr:
    """Where the event would take the invoice (`invoices._next`)."""
    kind = pl.col("type")
    due_after = pl.col("amount_due_minor") - _applied()
    reduced = (
        pl.when(due_after == 0)
        .then(pl.lit("paid"))
        .when(_new_paid() != 0)
        .then(pl.lit("partially_paid"))
        .otherwise(pl.lit("open"))
    )
    return (
        pl.when(pl.col("state").is_null())
        .then(pl.lit("draft"))
        .when(kind == _SENT)
        .then(pl.lit("open"))
        .when(kind == _VOIDED)
        .then(pl.lit("void"))
        .when(kind == _WRITTEN_OFF)
        .then(pl.lit("written_off"))
        .otherwise(reduced)
        .alias("to_state")
    )


def _reason() -> pl.Expr:
    """Why the event is refused, or null: `invoices.apply_invoice_event`'s checks in order."""
    kind, state, amount = pl.col("type"), pl.col("state"), pl.col("e_amount_minor")
    currency, uses_amount, new = pl.col("e_currency"), kind.is_in(_USES_AMOUNT), state.is_null()
    return (
        pl.when(pl.col("targets").is_null() & new)
        .then(pl.format("{} not allowed before invoice.created", kind))
        .when(pl.col("targets").is_null())
        .then(pl.format("{} not allowed from {}", kind, state))
        .when(uses_amount & amount.is_null())
        .then(pl.format("{} without amount_minor", kind))
        .when(uses_amount & (amount <= 0))
        .then(pl.format("amount_minor must be a positive int, got {}", amount))
        .when(uses_amount & currency.is_null())
        .then(pl.format("amount_minor {} without currency", amount))
        .when(new)
        .then(pl.col("currency_problem"))
        .when(currency.is_not_null() & (currency != pl.col("currency")))
        .then(pl.format("currency {} does not match invoice currency {}", currency,
                        pl.col("currency")))
        .when(~pl.col("targets").list.contains(pl.col("to_state")))
        .then(pl.format("{} from {} to '{}' is not in the transition table", kind, state,
                        pl.col("to_state")))
        .otherwise(None)
        .alias("reason")
    )  # fmt: skip


def _next_state() -> list[pl.Expr]:
    """The invoice after an accepted event, in STATE_COLUMNS order (`invoices._next`)."""
    kind, new = pl.col("type"), pl.col("state").is_null()
    due, applied = pl.col("amount_due_minor"), _applied()
    reduces = kind.is_in([_PAYMENT, _CREDIT_NOTE])
    closes = kind.is_in([_VOIDED, _WRITTEN_OFF])
    credited = pl.col("credited_minor")
    return [
        pl.col("invoice_id"),
        pl.when(new).then(pl.col("e_customer_id"))
        .otherwise(pl.coalesce("customer_id", "e_customer_id")).alias("customer_id"),
        pl.when(new).then(pl.col("e_currency")).otherwise(pl.col("currency")).alias("currency"),
        pl.when(new).then(pl.col("e_amount_minor")).otherwise(pl.col("amount_minor"))
        .alias("amount_minor"),
        pl.when(new).then(0).when(kind == _CREDIT_NOTE).then(credited + applied)
        .otherwise(credited).alias("credited_minor"),
        pl.when(new).then(0).otherwise(_new_paid()).alias("paid_minor"),
        pl.when(new).then(0).when(kind == _WRITTEN_OFF).then(pl.col("written_off_minor") + due)
        .otherwise(pl.col("written_off_minor")).alias("written_off_minor"),
        pl.when(new).then(pl.col("e_amount_minor")).when(closes).then(0)
        .when(reduces).then(due - applied).otherwise(due).alias("amount_due_minor"),
        pl.when(new).then(0)
        .otherwise(pl.col("customer_credit_minor") + pl.col("customer_credit_delta_minor"))
        .alias("customer_credit_minor"),
        pl.col("to_state").alias("state"),
        pl.when(new).then(pl.col("e_due_date")).when(kind == _SENT)
        .then(pl.coalesce("e_due_date", "due_date")).otherwise(pl.col("due_date"))
        .alias("due_date"),
        pl.when(kind == _SENT).then(pl.col("occurred_at")).otherwise(pl.col("sent_at"))
        .alias("sent_at"),
        pl.when(new | (pl.col("to_state") != pl.col("state"))).then(pl.col("occurred_at"))
        .otherwise(pl.col("state_since")).alias("state_since"),
    ]  # fmt: skip


def _step_facts() -> list[pl.Expr]:
    """The step's own columns besides the invoice after it."""
    return [
        pl.col("state").alias("from_state"),
        pl.col("to_state"),
        pl.col("event_id"),
        pl.col("type").alias("event_type"),
        pl.col("occurred_at"),
        pl.col("receivable_delta_minor"),
        pl.col("customer_credit_delta_minor"),
    ]
