"""A date's slice holds what is current on that date, not all of history: items only ever
pending are not carried past the date they cleared, and decisions already recorded by an
earlier date are not repeated. Nothing an analyst or the ledger needs is lost by it."""

from __future__ import annotations

from datetime import UTC, date, datetime

from billing_pipeline.recon import load_rules, reconcile
from billing_pipeline.warehouse.event_store import append_decisions
from billing_pipeline.warehouse.tables import ensure_schema
from tests.recon.builders import RULES_PATH, Store

MON, TUE, WED, THU, FRI = (date(2026, 10, d) for d in range(5, 10))
RULES = load_rules(RULES_PATH)
NOW = datetime(2026, 11, 1, tzinfo=UTC)
MISSING_BANK, MISSING_PROCESSOR = "missing_in_bank", "missing_in_processor"


def _statuses(s: Store, day: date, reference: str, kind: str) -> list[str]:
    sql = (
        "select status from recon_store.discrepancies "
        "where as_of = ? and reference = ? and type = ?"
    )
    return [r[0] for r in s.rows(sql, [day, reference, kind])]


def _run(s: Store, day: date) -> None:
    reconcile(s.conn, day, RULES, f"run-{day}")
    append_decisions(s.conn, day, f"run-{day}", NOW)


def test_an_item_only_ever_pending_is_carried_into_the_day_it_cleared_and_no_further():
    s = Store()
    charge = s.payment("p1", "ch_1", MON, 1000)["captured"]
    s.line("ch_1", "charge", TUE, 1000, payout="po_1")
    for day in (MON, TUE, WED, THU):
        reconcile(s.conn, day, RULES, "r")
    seen = {day: _statuses(s, day, charge, MISSING_PROCESSOR) for day in (MON, TUE, WED, THU)}
    assert seen == {MON: ["pending"], TUE: ["resolved"], WED: [], THU: []}


def test_an_item_that_was_open_stays_in_every_later_slice_once_resolved():
    s = Store()
    payout = s.payout("po_9", MON, 1234)
    s.line("ch_9", "charge", MON, 1234, payout="po_9")  # the payout adds up: one discrepancy
    credit_day, later = date(2026, 10, 12), (date(2026, 10, 13), date(2026, 10, 14))
    s.bank("B1", credit_day, 1234, "STRIPE PAYOUT po_9")
    reconcile(s.conn, FRI, RULES, "r")  # four business days on: past its window
    assert _statuses(s, FRI, payout, MISSING_BANK) == ["open"]
    for day in (credit_day, *later):
        reconcile(s.conn, day, RULES, "r")
        assert _statuses(s, day, payout, MISSING_BANK) == ["resolved"], day
    (detected,) = s.rows("select distinct detected_on from recon_store.discrepancies "
                         "where reference = ? and type = ?", [payout, MISSING_BANK])  # fmt: skip
    assert detected == (FRI,)


def test_each_decision_is_in_the_slice_of_the_first_date_that_reached_it():
    s = Store()
    ensure_schema(s.conn)  # the event store quarantines into ingest.quarantine
    s.payment("p1", "ch_1", MON, 1000)
    s.line("ch_1", "charge", TUE, 1000, payout="po_1", fee=30)
    s.payout("po_1", TUE, 970)
    s.bank("B1", WED, 970, "STRIPE PAYOUT po_1")
    s.payment("p2", "ch_2", WED, 2000)
    s.line("ch_2", "charge", THU, 2000, payout="po_2")
    for day in (TUE, WED, THU):
        _run(s, day)
    slices = s.rows("select as_of, idempotency_key from recon_store.decisions order by all")
    keys = [k for _, k in slices]
    assert len(keys) == len(set(keys)), "a decision repeated on a later date"
    # Everything a from-scratch reconciliation of the last date decides is recorded. (Without
    # run marks nothing is carried, so every pair is decided again, not only the new ones.)
    s.conn.execute("create table main.marks as from recon_store.run_marks")
    s.conn.execute("delete from recon_store.run_marks")
    reconcile(s.conn, THU, RULES, "check", write=False)
    full = {k for (k,) in s.rows("select idempotency_key from recon_decisions_raw")}
    s.conn.execute("insert into recon_store.run_marks from main.marks")
    stored = {k for (k,) in s.rows("select idempotency_key from store.events "
                                   "where source = 'recon'")}  # fmt: skip
    assert full and full == set(keys) == stored
    by_day = {d: {k for day, k in slices if day == d} for d in (TUE, WED, THU)}
    assert by_day[TUE] and by_day[WED] and by_day[THU]
    # A rerun of an earlier date writes the same slice it wrote the first time.
    _run(s, WED)
    again = s.rows("select as_of, idempotency_key from recon_store.decisions order by all")
    assert again == slices
