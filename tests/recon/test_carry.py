"""Leg-1 matches are carried from the previous run's slice unless something new reaches their
processor reference; a carried run writes what a run over all history writes."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from billing_pipeline.recon import load_rules, reconcile
from billing_pipeline.recon.scope import partitions_by_reference
from tests.recon.builders import RULES_PATH, Store, from_scratch

MON, TUE, WED = date(2026, 10, 5), date(2026, 10, 6), date(2026, 10, 7)
RULES = load_rules(RULES_PATH)


def _carried(s: Store) -> set[str]:
    return {r[0][0] for r in s.rows("select left_refs from recon_carried")}


def test_a_match_nothing_new_reaches_is_carried_and_the_result_is_unchanged():
    s = Store()
    capture = s.payment("p1", "ch_1", MON, 1000)["captured"]
    s.line("ch_1", "charge", MON, 1000, payout="po_1")
    reconcile(s.conn, MON, RULES, "r")
    s.payment("p2", "ch_2", TUE, 2000)
    s.line("ch_2", "charge", TUE, 2000, payout="po_2")
    reconcile(s.conn, TUE, RULES, "r")
    assert _carried(s) == {capture}
    matches = from_scratch(s, TUE, RULES)["matches"]
    assert len([m for m in matches if m[2] == "ledger_processor"]) == 2


def test_a_carried_pair_is_still_reported_for_its_amount_and_its_late_settlement():
    s = Store()
    fri, sat = date(2026, 10, 9), date(2026, 10, 10)
    differs = s.payment("p1", "ch_1", MON, 1000)["captured"]
    s.line("ch_1", "charge", MON, 970, payout="po_1")
    late = s.payment("p3", "ch_3", MON, 500)["captured"]
    s.line("ch_3", "charge", fri, 500, payout="po_3")  # four days after the capture
    reconcile(s.conn, fri, RULES, "r")
    s.payment("p2", "ch_2", sat, 2000)
    reconcile(s.conn, sat, RULES, "r")
    assert _carried(s) == {differs, late}
    kinds = {d[3] for d in from_scratch(s, sat, RULES)["discrepancies"]}
    # The pairs' findings are the carried run's as much as the run that matched them.
    assert kinds >= {"amount_mismatch", "timing"}


def test_a_late_line_for_an_old_reference_reopens_its_match():
    s = Store()
    s.payment("p1", "ch_1", MON, 1000)
    s.line("ch_1", "charge", MON, 1000, payout="po_1")
    reconcile(s.conn, MON, RULES, "r")
    # Delivered after Monday's run but dated Monday: a second line for the same charge.
    late = s.line("ch_1", "charge", MON, 1000, payout="po_1", line_ref="txn_again")
    reconcile(s.conn, TUE, RULES, "r")
    assert _carried(s) == set()
    written = from_scratch(s, TUE, RULES)
    assert not [m for m in written["matches"] if m[2] == "ledger_processor"]
    (candidates,) = [d[10] for d in written["discrepancies"] if d[3] == "ambiguous"]
    assert late in candidates


def test_a_new_payment_event_reopens_its_reference_even_without_a_settlement_line():
    s = Store()
    s.payment("p1", "ch_1", MON, 1000)
    s.line("ch_1", "charge", MON, 1000, payout="po_1")
    reconcile(s.conn, MON, RULES, "r")
    s.payment("p1", "ch_1", TUE, 400, kinds=("refunded",))
    reconcile(s.conn, WED, RULES, "r")
    assert _carried(s) == set()
    from_scratch(s, WED, RULES)


def test_an_unmatched_capture_nothing_new_reaches_is_still_reported_and_opens_in_time():
    s = Store()
    waiting = s.payment("p1", "ch_1", MON, 1000)["captured"]
    reconcile(s.conn, MON, RULES, "r")
    s.payment("p2", "ch_2", TUE, 2000)
    s.line("ch_2", "charge", TUE, 2000, payout="po_2")
    later = MON + timedelta(days=10)
    reconcile(s.conn, later, RULES, "r")
    statuses = {(d[3], d[4]): d[9] for d in from_scratch(s, later, RULES)["discrepancies"]}
    assert statuses[("missing_in_processor", waiting)] == "open"


def test_a_late_failure_unwinds_a_refund_filed_under_another_reference():
    s = Store()
    sun = MON - timedelta(days=1)
    s.payment("p1", "ch_1", MON, 1000, kinds=("authorized", "captured"))
    refund = {"payment_id": "p1", "processor": "stripe", "processor_ref": "re_1",
              "amount_minor": 400, "currency": "EUR", "type": "payment.refunded"}  # fmt: skip
    s.add("evt_p1_refunded", "payment.refunded", MON, refund, "payment")
    s.line("ch_1", "charge", MON, 1000, payout="po_1")
    refund_line = s.line("re_1", "refund", MON, 400, payout="po_1")
    reconcile(s.conn, MON, RULES, "r")
    assert _carried(s) == set()
    # Stored after Monday's run: the payment failed before it was captured, so neither the
    # capture nor its refund (under the refund's own reference) is money the processor owes.
    failed = {**refund, "processor_ref": "ch_1", "type": "payment.failed"}
    s.add("evt_p1_failed", "payment.failed", sun, failed, "payment")
    reconcile(s.conn, TUE, RULES, "r")
    assert _carried(s) == set()
    written = from_scratch(s, TUE, RULES)
    assert ("missing_in_ledger", refund_line) in {(d[3], d[4]) for d in written["discrepancies"]}


def test_a_manual_match_may_take_items_a_rule_matched_on_an_earlier_date(tmp_path):
    s = Store()
    capture = s.payment("p1", "ch_1", MON, 1000)["captured"]
    line = s.line("ch_1", "charge", MON, 1000, payout="po_1")
    s.payment("p2", "ch_2", MON, 700)
    reconcile(s.conn, MON, RULES, "r")
    (ident,) = s.rows("select discrepancy_id from recon_store.discrepancies "
                      "where type = 'missing_in_processor'")[0]  # fmt: skip
    (tmp_path / "manual.csv").write_text(
        f"discrepancy_id,action,note,who,refs\n{ident},manual_match,,ana,{capture};{line}\n",
        encoding="utf-8",
    )
    reconcile(s.conn, TUE, RULES, "r", resolutions_dir=tmp_path)
    assert _carried(s) == set()
    (rule,) = s.rows("select rule_id from recon_out_matches where leg = 'ledger_processor'")[0]
    assert rule == "manual"
    (outcome,) = s.rows("select outcome from recon_out_resolutions_log")[0]
    assert outcome == "applied"


def test_rules_that_do_not_split_by_reference_carry_nothing():
    assert partitions_by_reference(RULES)
    loose = [
        replace(rule, criteria=tuple(c for c in rule.criteria if "processor_ref" not in c.field))
        if rule.leg == "ledger_processor" else rule
        for rule in RULES.rules
    ]  # fmt: skip
    assert not partitions_by_reference(replace(RULES, rules=tuple(loose)))


def test_carried_matches_that_share_a_capture_count_it_once_in_the_match_rate():
    # Leg 1's exact rule as many-to-one: a settlement line takes the capture it fits and the
    # capture stays free, so the next rule pairs it with a second line. Two carried matches
    # then hold one capture.
    lenient = tuple(
        replace(rule, strategy="many_to_one") if rule.id == "lp-reference-exact" else rule
        for rule in RULES.rules
    )  # fmt: skip
    rules = replace(RULES, rules=lenient)
    s = Store()
    capture = s.payment("p1", "ch_1", MON, 1000)["captured"]
    s.line("ch_1", "charge", MON, 1000, payout="po_1")
    s.line("ch_1", "charge", MON, 970, payout="po_1", line_ref="txn_second")
    reconcile(s.conn, MON, rules, "r")
    s.payment("p2", "ch_2", TUE, 2000)
    s.line("ch_2", "charge", TUE, 2000, payout="po_2")
    reconcile(s.conn, TUE, rules, "r")
    assert _carried(s) == {capture}
    assert s.rows("select count(*) from recon_carried")[0][0] == 2
    written = from_scratch(s, TUE, rules)  # the same metrics from all history
    rates = {m[2]: m[6] for m in written["metrics"] if m[1] == "ledger_processor"}
    # Two left items, not three: p1's capture once, and p2's (whose many-to-one match leaves
    # it unconsumed, so it is loaded, reported and not counted as matched).
    assert (rates["items"], rates["matched"]) == (2, 1)


def test_only_captures_and_refunds_the_lifecycle_accepts_are_reconciled_scoped_or_not():
    s = Store()
    carried = s.payment("p0", "ch_0", MON, 100)["captured"]
    s.line("ch_0", "charge", MON, 100, payout="po_0")
    reconcile(s.conn, MON, RULES, "r")  # Tuesday's run is scoped from this slice
    # Captured without an authorization; captured after a void; refunded before its capture.
    s.payment("p1", "ch_1", TUE, 1000, kinds=("created", "captured"))
    s.payment("p2", "ch_2", TUE, 2000, kinds=("created", "authorized", "voided", "captured"))
    early = s.payment("p3", "ch_3", TUE, 3000, kinds=("authorized", "refunded", "captured"))
    legal = s.payment("p4", "ch_4", TUE, 4000, kinds=("authorized", "captured", "refunded"))
    for ref, kind, amount in (("ch_1", "charge", 1000), ("ch_2", "charge", 2000),
                              ("ch_3", "charge", 3000), ("ch_3", "refund", 3000),
                              ("ch_4", "charge", 4000), ("ch_4", "refund", 4000)):  # fmt: skip
        s.line(ref, kind, TUE, amount, payout=f"po_{ref}")
    reconcile(s.conn, TUE, RULES, "r")
    assert _carried(s) == {carried}  # scoped: Monday's match is carried, its group not read
    expected = {early["captured"], legal["captured"], legal["refunded"]}
    assert {r[0] for r in s.rows("select key from recon_left_ledger_processor")} == expected
    # A run from scratch (nothing carried, every event read) writes the same slice.
    written = from_scratch(s, TUE, RULES)
    matched = {m for row in written["matches"] if row[2] == "ledger_processor" for m in row[6]}
    assert expected <= matched
    missing = {d[4] for d in written["discrepancies"] if d[3] == "missing_in_ledger"}
    lines = ("txn_ch_1_charge", "txn_ch_2_charge", "txn_ch_3_refund")
    assert {f"stripe:line:{line}" for line in lines} <= missing
