"""The billing event log: contract fields, UTC business dates, lifecycle order per payment."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import UTC, datetime

# Allowed payment transitions of DESIGN.md, as the events drive them.
NEXT = {
    None: {"payment.created"},
    "payment.created": {"payment.authorized", "payment.failed"},
    "payment.authorized": {"payment.captured", "payment.voided"},
    "payment.captured": {"payment.refunded", "payment.dispute_opened"},
    "payment.refunded": {"payment.refunded", "payment.dispute_opened"},
    "payment.dispute_opened": {"payment.dispute_won", "payment.dispute_lost"},
    "payment.dispute_won": {"payment.refunded"},
}
PAYMENT_FIELDS = {
    "event_id",
    "type",
    "occurred_at",
    "payment_id",
    "customer_id",
    "invoice_id",
    "amount_minor",
    "currency",
    "processor",
    "processor_ref",
}
INVOICE_FIELDS = {
    "event_id",
    "type",
    "occurred_at",
    "invoice_id",
    "invoice_number",
    "customer_id",
    "amount_minor",
    "currency",
    "due_date",
}
OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")


def _events(world):
    """(file, line, text, parsed or None) over every event line, in log order."""
    for path in world.files("events"):
        rel = path.relative_to(world.inbox).as_posix()
        for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            try:
                yield rel, n, text, json.loads(text)
            except json.JSONDecodeError:
                yield rel, n, text, None


def test_well_formed_events_follow_the_contract_and_sit_in_their_utc_day(world):
    # Recorded anomalies are skipped: a redelivered duplicate keeps its original instant.
    recorded = world.anomaly_lines()
    offsets = set()
    for rel, n, _, event in _events(world):
        if (rel, n) in recorded:
            continue
        assert event is not None
        expected = PAYMENT_FIELDS if event["type"].startswith("payment.") else INVOICE_FIELDS
        assert set(event) == expected
        assert re.fullmatch(r"evt_[0-9a-f]{24}", event["event_id"])
        assert isinstance(event["amount_minor"], int)
        assert OFFSET.match(event["occurred_at"])
        instant = datetime.fromisoformat(event["occurred_at"]).astimezone(UTC)
        assert instant.date().isoformat() == rel.split("/")[1]
        offsets.add(event["occurred_at"][-6:])
    assert {"+00:00", "-05:00", "+05:30"} <= offsets


def test_each_payment_moves_through_allowed_transitions_in_log_order(world):
    recorded = world.anomaly_lines()
    state: dict[str, str | None] = defaultdict(lambda: None)
    last_instant: dict[str, datetime] = {}
    checked = 0
    for rel, n, _, event in _events(world):
        if (rel, n) in recorded or event is None or not event["type"].startswith("payment."):
            continue
        pid = event["payment_id"]
        assert event["type"] in NEXT[state[pid]], f"{rel}:{n} {state[pid]} -> {event['type']}"
        instant = datetime.fromisoformat(event["occurred_at"])
        assert pid not in last_instant or last_instant[pid] <= instant
        state[pid], last_instant[pid] = event["type"], instant
        checked += 1
    assert checked > 100


def test_event_ids_repeat_only_where_truth_records_a_duplicate_or_conflict(world):
    repeats = world.anomaly_lines("duplicate_event", "conflicting_event")
    seen: dict[str, str] = {}
    for rel, n, text, event in _events(world):
        if event is None or "event_id" not in event:
            continue
        if event["event_id"] in seen:
            assert (rel, n) in repeats
        else:
            assert (rel, n) not in repeats
            seen[event["event_id"]] = text


def test_event_counts_in_control_totals_match_the_log(world):
    control = world.control()["events"]
    lines = sum(1 for _ in _events(world))
    assert sum(control["lines_by_class"].values()) == lines
    assert sum(control["well_formed_by_type"].values()) == control["lines_by_class"]["ok"]
