import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_pipeline.domain import accounts as acc
from billing_pipeline.domain.posting import (
    NON_POSTING_FACT_TYPES,
    POSTING_FACT_TYPES,
    RULES,
    RULES_VERSION,
    Fact,
    InvalidFact,
    NothingToPost,
    UnbalancedEntry,
    UnknownFact,
    post,
    post_frame,
    post_or_none,
    rules_frame,
)

BASE = {"currency": "EUR", "processor": "stripe", "bank_account": "NL91ABNA0417164300"}
BANK = "assets:bank:nl91abna0417164300"
CLEARING = "assets:processor_clearing:stripe"


def lines_of(fact_type, **fields):
    entry = post(Fact(fact_type, {**BASE, **fields}, fact_id="evt_1"))
    return [(x.account, x.debit_minor, x.credit_minor) for x in entry.lines]


REC, REV, TRANSIT = "assets:receivables", "income:revenue", "assets:cash_in_transit"
FX = "equity:currency_exchange"


def amt(n):
    return {"amount_minor": n}


# The DESIGN.md "Ledger" table, written out by hand: (fact, fields) -> (account, debit, credit).
DESIGN_TABLE = [
    ("invoice.sent", amt(1000), [(REC, 1000, 0), (REV, 0, 1000)]),
    ("invoice.voided", amt(1000), [(REV, 1000, 0), (REC, 0, 1000)]),
    (
        "invoice.credit_note_issued",
        {**amt(250), "applied_minor": 250, "overpaid_minor": 0},
        [(REV, 250, 0), (REC, 0, 250)],
    ),
    (
        "invoice.credit_note_issued",
        {**amt(250), "applied_minor": 100, "overpaid_minor": 150},
        [(REV, 250, 0), (REC, 0, 100), ("liabilities:customer_credit", 0, 150)],
    ),
    ("invoice.written_off", amt(700), [("expenses:bad_debt", 700, 0), (REC, 0, 700)]),
    (
        "payment.captured",
        {**amt(1000), "invoice_id": "in_1", "applied_minor": 1000, "overpaid_minor": 0},
        [(CLEARING, 1000, 0), (REC, 0, 1000)],
    ),
    (
        "payment.captured",
        {**amt(1000), "invoice_id": "in_1", "applied_minor": 600, "overpaid_minor": 400},
        [(CLEARING, 1000, 0), (REC, 0, 600), ("liabilities:customer_credit", 0, 400)],
    ),
    ("payment.captured", {**amt(1000), "invoice_id": None}, [(CLEARING, 1000, 0), (REV, 0, 1000)]),
    ("payment.refunded", amt(300), [("income:refunds", 300, 0), (CLEARING, 0, 300)]),
    ("payment.dispute_opened", amt(1000), [("expenses:chargebacks", 1000, 0), (CLEARING, 0, 1000)]),
    ("payment.dispute_won", amt(1000), [(CLEARING, 1000, 0), ("expenses:chargebacks", 0, 1000)]),
    ("settlement.fee", {"fee_minor": 59}, [("expenses:processor_fees", 59, 0), (CLEARING, 0, 59)]),
    ("payout.sent", amt(9000), [(TRANSIT, 9000, 0), (CLEARING, 0, 9000)]),
    (
        "settlement.conversion",
        {"gross_minor": 1227, "original_minor": 3813, "original_currency": "KWD"},
        [(CLEARING, 1227, 0), (FX, 0, 1227), (FX, 3813, 0), (CLEARING, 0, 3813)],
    ),
    ("bank.payout_received", amt(9000), [(BANK, 9000, 0), (TRANSIT, 0, 9000)]),
    (
        "bank.invoice_payment",
        {**amt(1200), "applied_minor": 1000, "overpaid_minor": 200},
        [(BANK, 1200, 0), (REC, 0, 1000), ("liabilities:customer_credit", 0, 200)],
    ),
    ("bank.unexplained_credit", amt(42), [(BANK, 42, 0), ("assets:suspense", 0, 42)]),
    ("bank.unexplained_debit", amt(42), [("assets:suspense", 42, 0), (BANK, 0, 42)]),
    ("bank.fee", amt(15), [("expenses:bank_fees", 15, 0), (BANK, 0, 15)]),
    ("recon.payout_matched", amt(9000), [("assets:suspense", 9000, 0), (TRANSIT, 0, 9000)]),
    (
        "recon.cash_applied",
        {**amt(1200), "applied_minor": 1000, "overpaid_minor": 200},
        [("assets:suspense", 1200, 0), (REC, 0, 1000), ("liabilities:customer_credit", 0, 200)],
    ),
]
# Facts whose amount_minor is split into applied_minor + overpaid_minor.
SPLIT_FACTS = {
    "bank.invoice_payment",
    "recon.cash_applied",
    "invoice.credit_note_issued",
    "payment.captured",
}


@pytest.mark.parametrize(("fact_type", "fields", "expected"), DESIGN_TABLE)
def test_each_fact_books_the_design_table_accounts(fact_type, fields, expected):
    assert lines_of(fact_type, **fields) == expected


def test_negative_settlement_adjustment_flips_sides():
    # Processor credits our balance: clearing up; debits it: clearing down, expense up.
    adj = "expenses:processor_fees:adjustments"
    assert lines_of("settlement.adjustment", amount_minor=500) == [
        (CLEARING, 500, 0),
        (adj, 0, 500),
    ]
    assert lines_of("settlement.adjustment", amount_minor=-500) == [
        (CLEARING, 0, 500),
        (adj, 500, 0),
    ]


def test_negative_fee_is_a_fee_rebate_that_reduces_expense():
    assert lines_of("settlement.fee", fee_minor=-30) == [
        ("expenses:processor_fees", 0, 30),
        (CLEARING, 30, 0),
    ]


def test_write_off_of_a_debit_balance_is_a_loss_and_of_a_credit_balance_a_gain():
    loss = lines_of("recon.write_off", amount_minor=75, holding_account=CLEARING)
    assert loss == [("expenses:reconciliation_write_off", 75, 0), (CLEARING, 0, 75)]
    gain = lines_of("recon.write_off", amount_minor=-75, holding_account="assets:suspense")
    assert gain == [("income:reconciliation_write_off", 0, 75), ("assets:suspense", 75, 0)]


def test_zero_overpaid_part_is_omitted_and_line_numbers_trace_to_rules():
    entry = post(
        Fact(
            "bank.invoice_payment",
            {**BASE, "amount_minor": 1000, "applied_minor": 1000, "overpaid_minor": 0},
        )
    )
    assert [x.line_no for x in entry.lines] == [1, 2]
    assert entry.rules_version == RULES_VERSION


def test_invoice_payment_whose_parts_do_not_add_up_is_unbalanced():
    with pytest.raises(UnbalancedEntry, match="EUR"):
        lines_of("bank.invoice_payment", amount_minor=1000, applied_minor=900, overpaid_minor=0)


def test_empty_invoice_id_counts_as_no_invoice():
    assert lines_of("payment.captured", amount_minor=5, invoice_id="")[1][0] == "income:revenue"


def test_unknown_fact_type_is_a_clear_error_for_quarantine():
    with pytest.raises(UnknownFact, match=r"payment\.teleported"):
        post(Fact("payment.teleported", {**BASE, "amount_minor": 1}))


@pytest.mark.parametrize("fact_type", sorted(NON_POSTING_FACT_TYPES))
def test_facts_without_money_movement_post_nothing_but_are_not_unknown(fact_type):
    fact = Fact(fact_type, {**BASE, "amount_minor": 1000})
    with pytest.raises(NothingToPost):
        post(fact)
    assert post_or_none(fact) is None


def test_all_zero_amounts_post_nothing():
    assert post_or_none(Fact("settlement.fee", {**BASE, "fee_minor": 0})) is None


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"amount_minor": 10.5}, "integer minor units"),
        ({"amount_minor": True}, "integer minor units"),
        ({"amount_minor": "10"}, "integer minor units"),
        ({}, "amount_minor must be"),
        ({"amount_minor": 10, "currency": "EURO"}, "bad currency"),
        ({"amount_minor": 10, "processor": None}, "cannot name an account"),
        ({"amount_minor": 2**63}, "64-bit"),
    ],
)
def test_malformed_fact_is_invalid_with_the_reason(fields, reason):
    with pytest.raises(InvalidFact, match=reason):
        post(Fact("payment.refunded", {**BASE, **fields}))


def test_write_off_against_an_invalid_holding_account_is_invalid():
    with pytest.raises(InvalidFact, match="must start with"):
        lines_of("recon.write_off", amount_minor=5, holding_account="suspense")


def test_rules_frame_has_one_row_per_rule_and_every_design_fact():
    frame = rules_frame()
    assert frame.height == len(RULES)
    assert set(frame["side"]) == {"debit", "credit"}
    assert {f for f, _, _ in DESIGN_TABLE} | {"settlement.adjustment", "recon.write_off"} == set(
        POSTING_FACT_TYPES
    )
    assert frame.filter(pl.col("rules_version") != RULES_VERSION).is_empty()


# --- properties -------------------------------------------------------------------------

AMOUNT = st.integers(-(10**12), 10**12).filter(lambda a: a != 0)
CURRENCY = st.sampled_from(["USD", "EUR", "GBP", "JPY", "KWD", "CHF"])
HOLDING = st.sampled_from(["assets:suspense", CLEARING, "assets:cash_in_transit"])


@st.composite
def facts(draw, fact_id="f"):
    fact_type = draw(st.sampled_from(POSTING_FACT_TYPES))
    applied, overpaid = draw(AMOUNT), draw(st.integers(0, 10**6))
    fields = {
        "currency": draw(CURRENCY),
        "amount_minor": applied + overpaid if fact_type in SPLIT_FACTS else draw(AMOUNT),
        "fee_minor": draw(AMOUNT),
        "gross_minor": draw(AMOUNT),
        "original_minor": draw(AMOUNT),
        "original_currency": draw(CURRENCY),
        "applied_minor": applied,
        "overpaid_minor": overpaid,
        "invoice_id": draw(st.sampled_from([None, "", "in_1"])),
        "processor": draw(st.sampled_from(["stripe", "Adyen", "bank_transfer"])),
        "bank_account": draw(st.sampled_from(["NL91ABNA0417164300", "123/45 EUR", "acct-1"])),
        "holding_account": draw(HOLDING),
    }
    return Fact(fact_type, fields, fact_id=fact_id)


@settings(max_examples=300)
@given(facts())
def test_any_fact_with_positive_or_negative_amounts_balances_on_valid_accounts(fact):
    entry = post(fact)
    assert len(entry.lines) >= 2
    assert sum(x.debit_minor for x in entry.lines) == sum(x.credit_minor for x in entry.lines)
    for line in entry.lines:
        acc.validate_account(line.account)
        assert (
            min(line.debit_minor, line.credit_minor) == 0 < max(line.debit_minor, line.credit_minor)
        )
        rule = next(r for r in RULES if (r.fact_type, r.line_no) == (fact.fact_type, line.line_no))
        assert line.currency == fact.fields[rule.currency_field]
    for currency in {line.currency for line in entry.lines}:
        in_currency = [x for x in entry.lines if x.currency == currency]
        assert sum(x.debit_minor - x.credit_minor for x in in_currency) == 0


def _as_frame(fact_list):
    columns = [
        "fact_id",
        "fact_type",
        "currency",
        "amount_minor",
        "fee_minor",
        "gross_minor",
        "original_minor",
        "original_currency",
        "applied_minor",
        "overpaid_minor",
        "invoice_id",
        "processor",
        "bank_account",
        "holding_account",
    ]
    rows = [{"fact_id": f.fact_id, "fact_type": f.fact_type, **f.fields} for f in fact_list]
    return pl.DataFrame(
        [{c: row.get(c) for c in columns} for row in rows],
        schema={c: pl.Int64 if c.endswith("_minor") else pl.Utf8 for c in columns},
    )


def _entry_rows(fact_list):
    rows = []
    for fact in fact_list:
        entry = post_or_none(fact)
        for x in entry.lines if entry else ():
            rows.append(
                (
                    fact.fact_id,
                    fact.fact_type,
                    x.line_no,
                    x.account,
                    x.currency,
                    x.debit_minor,
                    x.credit_minor,
                    entry.rules_version,
                )
            )
    return sorted(rows)


@settings(max_examples=40)
@given(st.lists(facts(), min_size=1, max_size=40))
def test_set_based_posting_equals_post_for_every_fact(fact_list):
    fact_list = [Fact(f.fact_type, f.fields, fact_id=f"f{i:03}") for i, f in enumerate(fact_list)]
    lines, problems = post_frame(_as_frame(fact_list))
    assert problems.is_empty()
    assert sorted(lines.rows()) == _entry_rows(fact_list)


def test_set_based_posting_covers_every_rule_row_and_both_signs():
    fact_list = []
    for i, fact_type in enumerate(POSTING_FACT_TYPES):
        for sign in (1, -1):
            for invoice in ("in_1", None):
                fields = {
                    **BASE,
                    "amount_minor": sign * 1000,
                    "fee_minor": sign * 30,
                    "gross_minor": sign * 1227,
                    "original_minor": sign * 3813,
                    "original_currency": "KWD",
                    "applied_minor": sign * 800,
                    "overpaid_minor": sign * 200,
                    "invoice_id": invoice,
                    "holding_account": "assets:suspense",
                }
                fact_list.append(Fact(fact_type, fields, fact_id=f"{i}{sign}{invoice}"))
    lines, problems = post_frame(_as_frame(fact_list))
    assert problems.is_empty()
    assert sorted(lines.rows()) == _entry_rows(fact_list)
    used = set(lines.select("fact_type", "line_no", "account").rows())
    params = {"{processor}": "stripe", "{bank_account}": "nl91abna0417164300"}
    params["{holding_account}"] = "assets:suspense"
    for rule in RULES:
        account = rule.account
        for name, value in params.items():
            account = account.replace(name, value)
        assert (rule.fact_type, rule.line_no, account) in used, rule


def test_set_based_posting_reports_every_fact_it_cannot_post():
    bad = [
        Fact("payment.teleported", {**BASE, "amount_minor": 1}, fact_id="unknown"),
        Fact("payment.refunded", {**BASE, "amount_minor": None}, fact_id="no_amount"),
        Fact("payment.refunded", {**BASE, "amount_minor": 5, "processor": None}, fact_id="no_psp"),
        Fact("payment.refunded", {**BASE, "amount_minor": 5, "currency": "EURO"}, fact_id="ccy"),
        Fact(
            "bank.invoice_payment",
            {**BASE, "amount_minor": 5, "applied_minor": 4, "overpaid_minor": 0},
            fact_id="unbalanced",
        ),
        Fact("payment.dispute_lost", {**BASE, "amount_minor": 5}, fact_id="no_money"),
        Fact("payment.refunded", {**BASE, "amount_minor": 5}, fact_id="good"),
    ]
    lines, problems = post_frame(_as_frame(bad))
    assert set(lines["fact_id"]) == {"good"}
    assert set(problems["fact_id"]) == {"unknown", "no_amount", "no_psp", "ccy", "unbalanced"}
    reasons = dict(problems.select("fact_id", "reason").rows())
    assert "no posting rule" in reasons["unknown"]
    assert "imbalance" in reasons["unbalanced"] or "debits - credits" in reasons["unbalanced"]
    for fact in bad:
        if fact.fact_id in problems["fact_id"]:
            with pytest.raises((UnknownFact, InvalidFact, UnbalancedEntry)):
                post(fact)


def test_refund_conversion_flips_both_currency_pairs_and_balances_each_currency():
    entry = post(
        Fact(
            "settlement.conversion",
            {**BASE, "currency": "EUR", "gross_minor": -4290, "original_currency": "JPY",
             "original_minor": -7651},
            fact_id="txn_1#fx",
        )
    )  # fmt: skip
    got = [(x.account, x.currency, x.debit_minor, x.credit_minor) for x in entry.lines]
    assert got == [
        (CLEARING, "EUR", 0, 4290),
        (FX, "EUR", 4290, 0),
        (FX, "JPY", 0, 7651),
        (CLEARING, "JPY", 7651, 0),
    ]
    assert entry.imbalances == {}


def test_conversion_with_an_unknown_original_currency_is_refused_by_both_engines():
    fields = {**BASE, "gross_minor": 10, "original_minor": 9, "original_currency": "ZZZ"}
    fact = Fact("settlement.conversion", fields, fact_id="bad_ccy")
    with pytest.raises(InvalidFact, match="bad currency 'ZZZ'"):
        post(fact)
    lines, problems = post_frame(_as_frame([fact]))
    assert lines.is_empty()
    assert problems.rows() == [("bad_ccy", "settlement.conversion", "bad currency ZZZ")]
