"""Engine behaviour on small hand-made stores: no guessing, bank lines used once, windows,
idempotent reruns, resolutions and rule-set diffs."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import yaml

from billing_pipeline.recon import diff_rule_versions, load_rules, parse_rules, reconcile
from tests.recon.builders import RULES_PATH, Store

MON, TUE, WED, THU, FRI = (date(2026, 10, d) for d in range(5, 10))
RULES = load_rules(RULES_PATH)


def _disc(s: Store, as_of: date) -> dict[tuple[str, str], tuple]:
    rows = s.rows("select leg, type, reference, status, candidates, discrepancy_id "
                  "from recon_store.discrepancies where as_of = ?", [as_of])  # fmt: skip
    return {(r[1], r[2]): (r[3], r[4], r[5]) for r in rows}


def test_two_payouts_fitting_one_credit_by_amount_are_ambiguous_not_guessed():
    s = Store()
    p1 = s.payout("po_1", MON, 5000)
    p2 = s.payout("po_2", MON, 5000)
    b = s.bank("B1", TUE, 5000, "SETTLEMENT", counterparty="STRIPE")
    reconcile(s.conn, FRI, RULES, "r")
    assert s.rows("select count(*) from recon_store.matches")[0][0] == 0
    status, candidates, _ = _disc(s, FRI)[("ambiguous", b)]
    assert status == "open" and candidates == sorted([p1, p2])
    # held for the controller: neither missing nor treated as invoice cash
    assert ("missing_in_bank", p1) not in _disc(s, FRI)
    assert ("missing_in_ledger", b) not in _disc(s, FRI)


def test_one_credit_fitting_two_invoices_by_amount_only_is_ambiguous():
    s = Store()
    s.invoice("inv_1", "INV-000001", MON, 7000)
    s.invoice("inv_2", "INV-000002", MON, 7000)
    b = s.bank("B1", TUE, 7000, "SEPA CREDIT TRANSFER")
    reconcile(s.conn, FRI, RULES, "r")
    assert _disc(s, FRI)[("ambiguous", b)][1] == ["inv_1", "inv_2"]
    assert s.rows("select count(*) from recon_store.decisions")[0][0] == 0


def test_a_bank_line_explaining_a_payout_is_not_also_applied_to_an_invoice():
    s = Store()
    s.invoice("inv_1", "INV-000777", MON, 9000)
    s.payout("po_777", MON, 9000)
    b = s.bank("B1", TUE, 9000, "STRIPE PAYOUT po_777 INV-000777")
    reconcile(s.conn, FRI, RULES, "r")
    legs = s.rows("select leg, right_refs, left_refs from recon_store.matches")
    assert legs == [("processor_bank", [b], ["stripe:payout:po_777"])]
    assert s.rows("select count(*) from recon_store.decisions "
                  "where event_type = 'recon.cash_applied'")[0][0] == 0  # fmt: skip


def test_a_payout_within_its_window_is_pending_then_missing_after_it():
    s = Store()
    p = s.payout("po_9", THU, 1234, arrival=FRI)
    reconcile(s.conn, date(2026, 10, 14), RULES, "r")  # Wed: 3 business days after Friday
    assert _disc(s, date(2026, 10, 14))[("missing_in_bank", p)][0] == "pending"
    reconcile(s.conn, date(2026, 10, 15), RULES, "r")
    status, _, _ = _disc(s, date(2026, 10, 15))[("missing_in_bank", p)]
    assert status == "open"
    detected = s.rows("select distinct detected_on, age_days from recon_store.discrepancies "
                      "where as_of = ?", [date(2026, 10, 15)])  # fmt: skip
    assert detected == [(date(2026, 10, 14), 1)]


def test_same_as_of_twice_gives_identical_tables():
    s = Store()
    s.payment("p1", "ch_1", MON, 1000)
    s.line("ch_1", "charge", TUE, 1000, payout="po_1", fee=30)
    s.payout("po_1", TUE, 970)
    s.bank("B1", WED, 970, "STRIPE PAYOUT po_1")
    s.invoice("inv_1", "INV-000001", MON, 5000)
    s.bank("B2", WED, 5500, "inv 000001")
    tables = ("matches", "discrepancies", "decisions", "metrics", "resolutions_log")
    reconcile(s.conn, FRI, RULES, "r")
    first = {t: s.rows(f"select * from recon_store.{t} order by all") for t in tables}
    reconcile(s.conn, FRI, RULES, "r")
    second = {t: s.rows(f"select * from recon_store.{t} order by all") for t in tables}
    assert first == second and first["decisions"]
    overpaid = s.rows("select payload->>'overpaid_minor' from recon_store.decisions "
                      "where event_type = 'recon.cash_applied'")  # fmt: skip
    assert overpaid == [("500",)]


def test_resolutions_accept_write_off_and_unknown_ids(tmp_path):
    s = Store()
    p = s.payout("po_5", MON, 4000)
    b = s.bank("B9", TUE, 100, "CREDIT INTEREST")
    reconcile(s.conn, FRI, RULES, "r")
    ids = {k: v[2] for k, v in _disc(s, FRI).items()}
    (tmp_path / "2026-10.csv").write_text(
        "discrepancy_id,action,note,who,refs\n"
        f"{ids[('missing_in_bank', p)]},write_off,never arrived,ana,\n"
        f"{ids[('missing_in_ledger', b)]},accept,interest,ana,\n"
        "doesnotexist,accept,,ana,\n"
        f"{ids[('missing_in_bank', p)]},shrug,,ana,\n",
        encoding="utf-8",
    )
    report = reconcile(s.conn, FRI, RULES, "r", resolutions_dir=tmp_path)
    found = _disc(s, FRI)
    assert found[("missing_in_bank", p)][0] == "written_off"
    assert found[("missing_in_ledger", b)][0] == "resolved"
    assert {(r["line"], r["reason"].split(";")[0]) for r in report.rejected_resolutions} == {
        (4, "unknown discrepancy id"), (5, "unknown action 'shrug'")}  # fmt: skip
    (payload,) = s.rows("select payload::json from recon_store.decisions "
                        "where event_type = 'recon.write_off'")[0]  # fmt: skip
    assert '"holding_account":"assets:cash_in_transit"' in payload.replace(" ", "")
    assert '"amount_minor":4000' in payload.replace(" ", "")


def test_diff_rule_versions_shows_what_a_looser_rule_adds():
    s = Store()
    p = s.payout("po_1", MON, 10_000)
    b = s.bank("B1", TUE, 9_750, "STRIPE PAYMENTS SETTLEMENT")
    strict = parse_rules(
        {
            "version": "strict",
            "rules": [
                r for r in [_raw(x) for x in RULES.rules] if r["id"] != "pb-processor-amount-near"
            ],
        }
    )
    diff = diff_rule_versions(s.conn, FRI, strict, RULES)
    assert [m[1:3] for m in diff.only_in_b_matches] == [((p,), (b,))]
    assert {d[2] for d in diff.only_in_a_discrepancies} == {"missing_in_bank", "missing_in_ledger"}
    assert s.rows("select count(*) from recon_store.matches")[0][0] == 0  # nothing written


def _raw(rule) -> dict:
    crit = []
    for c in rule.criteria:
        item = {"field": c.field, "operator": c.operator, "value": list(c.values)}
        if c.pattern:
            item["pattern"] = c.pattern
        if c.tolerance:
            t = c.tolerance
            item["tolerance"] = {
                k: (str(v) if k == "percent" else v)
                for k, v in (
                    ("minor", t.minor),
                    ("percent", t.percent),
                    ("days", t.days),
                    ("business_days", t.business_days),
                )
                if v is not None
            }
            item["tolerance"]["direction"] = t.direction
        crit.append(item)
    return {
        "id": rule.id,
        "version": rule.version,
        "leg": rule.leg,
        "strategy": rule.strategy,
        "criteria": crit,
    }


def test_a_repeated_bank_line_fitting_two_matched_payouts_names_one_whatever_their_order():
    # A reference rule with a date window (a rule set may have one) leaves a bank line that
    # repeats a matched payout's reference weeks later to the duplicate check. When it fits
    # two matched payouts, the one named must not depend on which arrived first, and its
    # processor and first credit must be that payout's.
    data = yaml.safe_load(Path(RULES_PATH).read_text())
    windowed = next(r for r in data["rules"] if r["id"] == "pb-reference-exact")
    windowed["criteria"].append(
        {"field": "right.business_date", "operator": "within", "value": "left.business_date",
         "tolerance": {"business_days": 4, "direction": "after"}}
    )  # fmt: skip
    rules = parse_rules(data)
    processor = {"po_1": "stripe", "po_2": "adyen"}
    found = []
    for order in (("po_1", "po_2"), ("po_2", "po_1")):
        s = Store()
        for payout in order:
            s.payout(payout, MON, 5000, processor=processor[payout])
        for payout in order:
            s.bank(f"B_{payout}", TUE, 5000, f"PAYOUT {payout}")
        repeat = s.bank("B3", date(2026, 10, 26), 5000, "PAYOUT po_1 po_2")
        reconcile(s.conn, date(2026, 10, 27), rules, "r")
        found.append(s.rows("select reference, candidates, detail from recon_store.discrepancies "
                            "where type = 'duplicate'"))  # fmt: skip
    assert found[0] == found[1]
    ((reference, (payout, first), detail),) = found[0]
    assert reference == repeat
    name = payout.split(":")[-1]
    assert first == f"bank:DE89:ref:B_{name}:1"
    assert json.loads(detail)["processor"] == processor[name]
