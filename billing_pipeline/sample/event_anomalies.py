"""Event-log anomalies injected around one payment's lifecycle.

* illegal transition: a capture after a failure, a refund after a void (new event id);
* duplicate: one of the payment's events again, same bytes, later in the log;
* conflict: another of its events again with the same event id and a different amount;
* malformed line: a broken `payment.created` of a fresh payment id (never a real event).
Copies go to the "tail" of a day's log, so they always come after their original.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

from billing_pipeline.sample.anomalies import MALFORMED_EVENT
from billing_pipeline.sample.clock import day_start, utc_date
from billing_pipeline.sample.context import World
from billing_pipeline.sample.events import malformed_event, spool_event

EVENT_ID = slice(13, 41)  # position of "evt_<24 hex>" in a line that starts {"event_id":"


def inject_event_anomalies(
    world: World,
    outcome: str,
    created: int,
    payment_id: str,
    lifecycle: list[tuple[int, str, int]],
    texts: list[str],
    event_like: Callable[[str, int, int], str],
) -> None:
    plan, end = world.plan, world.end
    last_instant, last_kind, last_amount = lifecycle[-1]
    if outcome in ("failed", "voided"):
        at = last_instant + 600 + created % 3000
        if plan.hit("illegal_transition", utc_date(at) <= end):
            kind = "payment.captured" if outcome == "failed" else "payment.refunded"
            text = event_like(kind, at, last_amount)
            detail = f"{kind} after {last_kind}"
            spool_event(world, at, kind, text, "illegal", "illegal_transition", payment_id, detail)
    pick = created % len(lifecycle)
    _copy(world, lifecycle, texts, pick, "duplicate_event")
    _copy(world, lifecycle, texts, (pick + 1) % len(lifecycle), "conflicting_event")
    if plan.hit(
        "malformed_row", created < day_start(end + timedelta(days=1)), "malformed_row:event"
    ):
        variant = plan.malformed_variant(MALFORMED_EVENT)
        base = json.loads(texts[0])
        base["payment_id"] = world.ids.payment.next()
        event_id = world.ids.event.next()
        text, why = malformed_event(variant, event_id, created, base)
        spool_event(world, created, "payment.created", text, "malformed", "malformed_row",
                    event_id, f"{variant}: {why}")  # fmt: skip


def _copy(world: World, lifecycle, texts: list[str], pick: int, kind: str) -> None:
    at, event_type, amount = lifecycle[pick]
    day = utc_date(at)
    if not world.plan.hit(kind, day <= world.end):
        return
    copy_day = min(day + timedelta(days=world.plan.randint(0, 2)), world.end)
    text, event_id = texts[pick], texts[pick][EVENT_ID]
    if kind == "duplicate_event":
        line_class = "duplicate"
        detail = f"same event_id and payload as the {event_type} logged on {day}"
    else:
        line_class = "conflict"
        text = text.replace(f'"amount_minor":{amount},', f'"amount_minor":{amount + 100},')
        detail = (f"same event_id as the {event_type} logged on {day}, "
                  f"amount_minor {amount + 100} instead of {amount}")  # fmt: skip
    spool_event(world, at, event_type, text, line_class, kind, event_id, detail, tail_day=copy_day)
