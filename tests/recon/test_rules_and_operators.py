"""Rule file validation, each operator and tolerance, evaluated by DuckDB on literal rows."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_pipeline.recon.criteria import install_macros, predicate
from billing_pipeline.recon.rules import RuleError, load_rules, parse_rules

GOOD_RULE = {"id": "r1", "version": 1, "leg": "processor_bank", "strategy": "one_to_one",
             "criteria": [{"field": "right.amount_minor", "operator": "equals",
                           "value": "left.amount_minor"}]}  # fmt: skip


def _holds(criterion: dict, left: dict, right: dict, leg: str = "processor_bank") -> bool:
    rules = parse_rules({"version": "t", "rules": [{**GOOD_RULE, "leg": leg,
                                                    "criteria": [criterion]}]})  # fmt: skip
    conn = duckdb.connect()
    install_macros(conn)

    def lit(v):
        if isinstance(v, date):
            return f"date '{v.isoformat()}'"
        if isinstance(v, str):
            return "'" + v.replace("'", "''") + "'"
        return str(v)

    lsel = ", ".join(f"{lit(v)} as {k}" for k, v in left.items())
    rsel = ", ".join(f"{lit(v)} as {k}" for k, v in right.items())
    sql = (
        f"select {predicate(rules.rules[0].criteria[0])} from (select {lsel}) l, (select {rsel}) r"
    )
    return conn.execute(sql).fetchone()[0]


def test_shipped_rule_file_loads_with_exact_rules_first_in_each_leg():
    rules = load_rules("config/recon_rules.yml")
    for leg in ("ledger_processor", "processor_bank", "bank_invoice"):
        first = rules.for_leg(leg)[0]
        assert all(c.operator in ("equals", "contains", "regex") for c in first.criteria)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"leg": "bank"}, "unknown leg"),
        ({"strategy": "best_guess"}, "unknown strategy"),
        ({"version": 0}, "'version' must be a positive integer"),
        (
            {"criteria": [{"field": "right.amount", "operator": "equals", "value": "left.x"}]},
            "unknown field 'right.amount'",
        ),
        (
            {
                "criteria": [
                    {
                        "field": "right.amount_minor",
                        "operator": "near",
                        "value": "left.amount_minor",
                    }
                ]
            },
            "unknown operator",
        ),
        (
            {
                "criteria": [
                    {
                        "field": "right.amount_minor",
                        "operator": "within",
                        "value": "left.amount_minor",
                        "tolerance": {"minor": 1, "days": 2},
                    }
                ]
            },
            "exactly one of",
        ),
        (
            {
                "criteria": [
                    {
                        "field": "right.remittance_info",
                        "operator": "regex",
                        "value": "left.payout_ref",
                        "pattern": "no group",
                    }
                ]
            },
            "capture group",
        ),
    ],
)
def test_a_bad_rule_is_refused_with_the_rule_and_field_named(change, message):
    with pytest.raises(RuleError, match=message) as error:
        parse_rules({"version": "t", "rules": [{**GOOD_RULE, **change}]})
    assert "r1" in str(error.value) or "rule #1" in str(error.value)


def test_two_rules_with_one_id_are_refused():
    with pytest.raises(RuleError, match="appears twice"):
        parse_rules({"version": "t", "rules": [GOOD_RULE, GOOD_RULE]})


def test_contains_ignores_case_and_whitespace_but_not_an_empty_needle():
    c = {"field": "right.remittance_info", "operator": "contains", "value": "left.payout_ref"}
    assert _holds(c, {"payout_ref": "po_AbC12"}, {"remittance_info": "STRIPE PAYOUT PO_ab c12"})
    assert not _holds(c, {"payout_ref": "po_AbC13"}, {"remittance_info": "STRIPE PAYOUT po_abc12"})
    assert not _holds(c, {"payout_ref": " "}, {"remittance_info": "anything"})


def test_regex_compares_any_captured_group_with_the_value():
    c = {"field": "right.remittance_info", "operator": "regex", "pattern": r"(?i)batch\s*(\d+)",
         "value": "left.batch_number"}  # fmt: skip
    assert _holds(c, {"batch_number": "1003"}, {"remittance_info": "TX1XT BATCH 1003, BillingCo"})
    assert not _holds(c, {"batch_number": "1003"}, {"remittance_info": "batch 10031"})


@pytest.mark.parametrize(
    ("tolerance", "payout", "bank", "holds"),
    [
        ({"minor": 250}, 10_000, 9_750, True),
        ({"minor": 250}, 10_000, 9_749, False),
        ({"minor": 250, "direction": "before"}, 10_000, 10_001, False),
        ({"percent": "2.5"}, 10_000, 10_250, True),
        ({"percent": "2.5"}, 10_000, 10_251, False),
    ],
)
def test_amount_tolerances_are_inclusive_and_exact(tolerance, payout, bank, holds):
    c = {"field": "right.amount_minor", "operator": "within", "value": "left.amount_minor",
         "tolerance": tolerance}  # fmt: skip
    assert _holds(c, {"amount_minor": payout}, {"amount_minor": bank}) is holds


@pytest.mark.parametrize(
    ("sent", "booked", "business_days", "holds"),
    [
        (date(2026, 10, 9), date(2026, 10, 12), 1, True),  # Friday -> Monday: one business day
        (date(2026, 10, 9), date(2026, 10, 13), 1, False),
        (date(2026, 10, 10), date(2026, 10, 12), 1, True),  # Saturday -> Monday
        (date(2026, 10, 9), date(2026, 10, 8), 3, False),  # before the payout: direction after
    ],
)
def test_date_window_counts_business_days_across_weekends(sent, booked, business_days, holds):
    c = {"field": "right.business_date", "operator": "within", "value": "left.business_date",
         "tolerance": {"business_days": business_days, "direction": "after"}}  # fmt: skip
    assert _holds(c, {"business_date": sent}, {"business_date": booked}) is holds


@settings(max_examples=40, deadline=None)
@given(st.dates(date(2000, 1, 1), date(2040, 1, 1)), st.integers(0, 40))
def test_business_day_count_equals_counting_weekdays_one_by_one(start, span):
    conn = duckdb.connect()
    install_macros(conn)
    end = date.fromordinal(start.toordinal() + span)
    expected = sum(1 for k in range(1, span + 1)
                   if date.fromordinal(start.toordinal() + k).weekday() < 5)  # fmt: skip
    (count,) = conn.execute("select recon_business_days(?, ?)", [start, end]).fetchone()
    assert count == expected


@pytest.mark.parametrize(
    "text",
    [
        "INV-000123",
        "inv 000123",
        "Invoice: INV000123",
        "Payment for INV-000123 thank you",
        "Invoices INV-000120/INV-000123",
        "INV-000120 INV-000123",
    ],
)
def test_invoice_number_found_in_every_remittance_form(text):
    rules = load_rules("config/recon_rules.yml")
    rule = next(r for r in rules.rules if r.id == "bi-invoice-number")
    conn = duckdb.connect()
    install_macros(conn)
    sql = (f"select {predicate(rule.criteria[0])} from (select $t::varchar as remittance_info) l,"
           " (select '123' as invoice_digits) r")  # fmt: skip
    assert conn.execute(sql, {"t": text}).fetchone()[0]
    assert not conn.execute(sql, {"t": "INV-001234"}).fetchone()[0]
