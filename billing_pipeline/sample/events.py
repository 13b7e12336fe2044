"""The billing application's event log: events/<date>/events.jsonl, one JSON object a line.

Events are spooled to the UTC date of their instant. A day's file is the spooled events in
time order (sorted in bounded chunks; an aggregate's events are spooled together and in
lifecycle order, and the sort is stable, so each payment's events stay in order), then the
day's "tail": copies that must come after their original (duplicates, conflicting payloads).
"""

from __future__ import annotations

import json
from datetime import date

from billing_pipeline.sample.clock import rfc3339, utc_date
from billing_pipeline.sample.context import World

SORT_CHUNK = 100_000
# Line classes the truth counts: ok, duplicate, conflict, illegal, malformed.


def payment_event(
    event_id: str,
    kind: str,
    instant: int,
    offset: int,
    payment_id: str,
    customer: str,
    invoice_id: str | None,
    amount: int,
    currency: str,
    processor: str,
    processor_ref: str,
) -> str:
    invoice = "null" if invoice_id is None else f'"{invoice_id}"'
    return (
        f'{{"event_id":"{event_id}","type":"{kind}","occurred_at":"{rfc3339(instant, offset)}",'
        f'"payment_id":"{payment_id}","customer_id":"{customer}","invoice_id":{invoice},'
        f'"amount_minor":{amount},"currency":"{currency}","processor":"{processor}",'
        f'"processor_ref":"{processor_ref}"}}'
    )


def invoice_event(
    event_id: str,
    kind: str,
    instant: int,
    offset: int,
    invoice_id: str,
    number: str,
    customer: str,
    amount: int,
    currency: str,
    due_date: date,
) -> str:
    return (
        f'{{"event_id":"{event_id}","type":"{kind}","occurred_at":"{rfc3339(instant, offset)}",'
        f'"invoice_id":"{invoice_id}","invoice_number":"{number}","customer_id":"{customer}",'
        f'"amount_minor":{amount},"currency":"{currency}","due_date":"{due_date.isoformat()}"}}'
    )


def spool_event(
    world: World,
    instant: int,
    kind: str,
    text: str,
    line_class: str = "ok",
    anomaly: str = "",
    reference: str = "",
    detail: str = "",
    tail_day: date | None = None,
) -> bool:
    record = f"{instant}\t{line_class}\t{kind}\t{anomaly}\t{reference}\t{detail}\t{text}"
    if tail_day is not None:
        return world.spool.put(tail_day, "events_tail", record)
    return world.spool.put(utc_date(instant), "events", record)


def _sorted_chunks(lines):
    chunk: list[tuple[int, str]] = []
    for line in lines:
        chunk.append((int(line[: line.index("\t")]), line))
        if len(chunk) >= SORT_CHUNK:
            chunk.sort(key=lambda item: item[0])
            yield from (item[1] for item in chunk)
            chunk = []
    chunk.sort(key=lambda item: item[0])
    yield from (item[1] for item in chunk)


def write_events_day(world: World, day: date) -> None:
    path = world.out_path("events", day, "events.jsonl")
    rel = world.rel(path)
    main = _sorted_chunks(world.spool.read(day, "events"))
    tail = world.spool.read(day, "events_tail")
    counts = {"data": 0, "valid": 0, "malformed": 0}
    truth = world.truth
    with path.open("w", encoding="utf-8", newline="\n") as out:
        line_no = 0
        for source in (main, tail):
            for record in source:
                _, line_class, kind, anomaly, reference, detail, text = record.split("\t", 6)
                out.write(text)
                out.write("\n")
                line_no += 1
                counts["data"] += 1
                truth.event_line_counts[line_class] += 1
                if line_class == "malformed":
                    counts["malformed"] += 1
                else:
                    counts["valid"] += 1
                    if line_class == "ok":
                        truth.event_counts[kind] += 1
                if anomaly:
                    truth.anomaly(anomaly, reference, rel, line_no, detail)
    world.truth.row(
        "files", rel, "events", counts["data"], counts["valid"], counts["malformed"], ""
    )
    world.files_written.append(rel)


def malformed_event(variant: str, event_id: str, instant: int, base: dict) -> tuple[str, str]:
    """A broken copy of an event line with a fresh id: (line text, what is wrong)."""
    record = dict(base, event_id=event_id, occurred_at=rfc3339(instant, 0))
    if variant == "bad_date":
        record["occurred_at"] = f"{utc_date(instant):%Y-%m}-32T25:61:00+00:00"
        return json.dumps(record), "occurred_at is not a date"
    if variant == "unknown_currency":
        record["currency"] = "ZZZ"
        return json.dumps(record), "currency ZZZ is not ISO 4217"
    if variant == "too_many_decimals":
        amount = record["amount_minor"]
        text = json.dumps(record).replace(
            f'"amount_minor": {amount}', f'"amount_minor": {amount}.5'
        )
        return text, "amount_minor has decimals"
    return json.dumps(record)[:-25], "truncated JSON object"
