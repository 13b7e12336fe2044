"""A run that follows the last slice written reads only part of the discrepancy history
(`recon.history`): the previous slice's ids, its own, and those the resolution files name.
Each test builds a history where another id would be wrong to leave out, and compares the run
with one that reads all of it (`from_scratch`)."""

from __future__ import annotations

from datetime import date, timedelta

from billing_pipeline.recon import load_rules, reconcile
from tests.recon.builders import RULES_PATH, Store, from_scratch

MON, TUE, WED, THU = (date(2026, 10, 5) + timedelta(days=n) for n in range(4))
RULES = load_rules(RULES_PATH)


def _ids(s: Store, kind: str) -> list[str]:
    query = "select distinct discrepancy_id from recon_store.discrepancies where type = ?"
    return [row[0] for row in s.rows(query, [kind])]


def test_a_resolution_may_name_a_discrepancy_that_cleared_slices_ago(tmp_path):
    s = Store()
    s.payment("p1", "ch_1", MON, 1000)
    reconcile(s.conn, MON, RULES, "r")  # the capture waits for its settlement line
    s.line("ch_1", "charge", TUE, 1000, payout="po_1")
    reconcile(s.conn, TUE, RULES, "r")  # cleared: carried once, into this slice
    reconcile(s.conn, WED, RULES, "r")  # and no longer
    (waited,) = _ids(s, "missing_in_processor")
    (tmp_path / "accept.csv").write_text(
        f"discrepancy_id,action,note,who,refs\n{waited},accept,late line,ana,\n",
        encoding="utf-8",
    )
    reconcile(s.conn, THU, RULES, "r", resolutions_dir=tmp_path)
    written = from_scratch(s, THU, RULES, resolutions_dir=tmp_path)
    (resolution,) = [d[12] for d in written["discrepancies"] if d[1] == waited]
    assert resolution.startswith("accept by ana")


def test_a_discrepancy_back_after_it_cleared_keeps_the_date_it_was_first_detected():
    s = Store()
    s.line("ch_1", "charge", MON, 1000, payout="po_1")
    reconcile(s.conn, MON, RULES, "r")  # a line the ledger does not know yet
    s.payment("p1", "ch_1", MON, 1000, kinds=("authorized", "captured"))
    reconcile(s.conn, TUE, RULES, "r")
    reconcile(s.conn, WED, RULES, "r")
    # The payment had failed before it was captured: the line is the processor's alone again.
    failed = {"payment_id": "p1", "processor": "stripe", "processor_ref": "ch_1",
              "amount_minor": 1000, "currency": "EUR", "type": "payment.failed"}  # fmt: skip
    s.add("evt_p1_failed", "payment.failed", MON - timedelta(days=1), failed, "payment")
    reconcile(s.conn, THU, RULES, "r")
    written = from_scratch(s, THU, RULES)
    (detected,) = [d[7] for d in written["discrepancies"] if d[3] == "missing_in_ledger"]
    assert detected == MON


def test_a_slice_rewritten_after_the_previous_one_is_read_whole():
    s = Store()
    s.payment("p1", "ch_1", MON, 1000)
    s.line("ch_1", "charge", MON, 1000, payout="po_1")
    reconcile(s.conn, MON, RULES, "r")
    reconcile(s.conn, TUE, RULES, "r")
    # Monday is run again with a late capture: its slice now holds an id Tuesday's never saw.
    s.payment("p9", "ch_9", MON, 900)
    reconcile(s.conn, MON, RULES, "r")
    s.line("ch_9", "charge", MON, 900, payout="po_9")
    reconcile(s.conn, WED, RULES, "r")
    written = from_scratch(s, WED, RULES)
    (waited,) = _ids(s, "missing_in_processor")
    assert waited in {d[1] for d in written["discrepancies"]}
