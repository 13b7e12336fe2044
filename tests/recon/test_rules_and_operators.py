"""Rule file validation, each operator and tolerance, evaluated by DuckDB on literal rows."""

from __future__ import annotations

import dataclasses
from datetime import date

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_pipeline.recon.criteria import install_macros, predicate, rule_join, rule_predicate
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


SHIPPED = load_rules("config/recon_rules.yml")
_WORDS = ["po_1", "PO _1", "po_2", "tr 77", "TR77", "batch 12", "BATCH12", "INV-0003", "inv 3",
          "stripe", "Ad yen", " "]  # fmt: skip
_KEYS = ["po_1", "TR77", "tr 77", "stripe", "adyen", "12", "3", "", " ", None]


def _column_values(name: str):
    if "minor" in name:
        return st.sampled_from([100, 95, 105, 5_000, 9_000, -100, None])
    if "date" in name:
        return st.sampled_from([date(2026, 10, d) for d in (8, 9, 10, 12, 13, 16)] + [None])
    if name in ("remittance_info", "narrative"):
        text = st.lists(st.sampled_from(_WORDS), max_size=3).map(" ".join)
        return st.one_of(st.none(), text)
    if name == "currency":
        return st.sampled_from(["EUR", "USD", None])
    return st.sampled_from(_KEYS)


def _fields(rule, side: str) -> list[str]:
    refs = [ref for c in rule.criteria for ref in (c.field, *c.values)]
    return sorted({ref.partition(".")[2] for ref in refs if ref.startswith(f"{side}.")})


def _items(rule, side: str):
    row = st.fixed_dictionaries({name: _column_values(name) for name in _fields(rule, side)})
    return st.lists(row, max_size=6)


def _table(conn, name: str, rows: list[dict], fields: list[str]) -> None:
    types = {f: "bigint" if "minor" in f else "date" if "date" in f else "varchar" for f in fields}
    columns = ", ".join(f"{f} {t}" for f, t in types.items())
    conn.execute(f"create table {name} (key varchar, {columns})")
    for number, row in enumerate(rows):
        conn.execute(
            f"insert into {name} values (?, {', '.join('?' for _ in fields)})",
            [f"{name}{number}", *(row[f] for f in fields)],
        )


# Every shipped rule, and each of its criteria alone (alone, a criterion holds often enough
# for a wrong rewrite of it to show).
JOINED_RULES = [
    *SHIPPED.rules,
    *(dataclasses.replace(rule, criteria=(c,)) for rule in SHIPPED.rules for c in rule.criteria),
]


@settings(max_examples=200, deadline=None)
@given(data=st.data(), rule=st.sampled_from(JOINED_RULES))
def test_a_rule_join_pairs_exactly_the_items_its_criteria_hold_for(data, rule):
    """The join's rewrites (regex groups unnested, contains over texts normalized per item)
    find the same pairs as the criteria tested on every pair."""
    conn = duckdb.connect()
    install_macros(conn)
    for side, table in (("left", "lhs"), ("right", "rhs")):
        _table(conn, table, data.draw(_items(rule, side), label=side), _fields(rule, side))
    left, right, on = rule_join(rule.criteria, "lhs", "rhs")
    joined = conn.execute(f"select l.key, r.key from {left} l join {right} r on {on}").fetchall()
    every = conn.execute(
        f"select l.key, r.key from lhs l, rhs r where coalesce({rule_predicate(rule.criteria)},"
        " false)"
    ).fetchall()
    assert sorted(joined) == sorted(every)


def test_a_contains_join_ignores_case_and_whitespace_on_both_sides():
    rule = next(r for r in SHIPPED.rules if r.id == "pb-reference-exact")
    contains = dataclasses.replace(rule, criteria=rule.criteria[:1])  # remittance contains ref
    conn = duckdb.connect()
    install_macros(conn)
    conn.execute(
        "create table lhs as from (values ('l1', 'tr 77', 'po_9'), ('l2', ' ', 'PO_2'), "
        "('l3', null, '')) t(key, bank_reference, payout_ref)"
    )
    conn.execute(
        "create table rhs as from (values ('r1', 'paid TR77'), ('r2', 'p o_2 thanks'), "
        "('r3', null)) t(key, remittance_info)"
    )
    left, right, on = rule_join(contains.criteria, "lhs", "rhs")
    pairs = conn.execute(f"select l.key, r.key from {left} l join {right} r on {on}").fetchall()
    assert sorted(pairs) == [("l1", "r1"), ("l2", "r2")]
