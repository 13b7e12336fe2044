"""Amounts due in the functional currency: exact rates, exponents, one rounding, no guessing."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billing_pipeline.domain.fx import RateBook, RateError, RateOverride
from billing_pipeline.domain.rounding import RoundingRule, convert_minor
from billing_pipeline.receivables.functional import functional_amounts

ON = date(2026, 10, 5)
BOOK = RateBook(
    overrides=[
        RateOverride(ON, "JPY", "USD", Decimal("0.0067")),
        RateOverride(ON, "EUR", "USD", Decimal("1.1204")),
        RateOverride(ON, "KWD", "USD", Decimal("3.25")),
    ]
)


def test_jpy_to_usd_moves_two_decimal_places_and_rounds_half_even():
    # 15 000 JPY (no minor unit) x 0.0067 = 100.50 USD = 10 050 cents, exactly.
    # 75 JPY x 0.0067 = 0.5025 USD = 50.25 cents -> 50; 1 JPY = 0.67 cents -> 1.
    rows = functional_amounts([(ON, "JPY", 15_000), (ON, "JPY", 75), (ON, "JPY", 1)], BOOK,
                              "USD", "half_even")  # fmt: skip
    assert [(r.amount_minor, r.functional_amount_minor) for r in rows] == [
        (1, 1),
        (75, 50),
        (15_000, 10_050),
    ]
    assert {(r.rate, r.rate_date, r.rate_source, r.problem) for r in rows} == {
        ("0.0067", ON, "override", None)
    }


def test_kwd_has_three_decimals():
    # 1.250 KWD x 3.25 = 4.0625 USD = 406.25 cents -> 406.
    (row,) = functional_amounts([(ON, "KWD", 1_250)], BOOK, "USD", "half_even")
    assert row.functional_amount_minor == 406


def test_a_missing_rate_gives_no_amount_and_says_why():
    (row,) = functional_amounts([(ON, "GBP", 500)], BOOK, "USD", "half_even")
    assert (row.functional_amount_minor, row.rate) == (None, None)
    assert "no rate for GBP->USD" in row.problem


def test_the_functional_currency_itself_converts_at_one():
    (row,) = functional_amounts([(ON, "USD", 12_345)], BOOK, "USD", "half_even")
    assert (row.functional_amount_minor, row.rate, row.rate_source) == (12_345, "1", "identity")


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([ON - timedelta(days=1), ON, ON + timedelta(days=3)]),
            st.sampled_from(["JPY", "EUR", "KWD", "GBP", "USD"]),
            st.integers(1, 10**12),
        ),
        max_size=20,
    ),
    st.sampled_from([rule.value for rule in RoundingRule]),
)
def test_each_distinct_amount_once_converted_like_the_journal(triples, rule):
    rows = functional_amounts(triples + triples, BOOK, "USD", rule)
    assert [row[:3] for row in rows] == sorted(set(triples))
    for row in rows:
        try:
            quote = BOOK.rate(row.as_of_date, row.currency, "USD")
        except RateError as error:  # no rate: no amount, and the reason
            assert (row.functional_amount_minor, row.rate, row.problem) == (None, None, str(error))
            continue
        expected = convert_minor(row.amount_minor, row.currency, "USD", quote.rate, rule)
        assert row.functional_amount_minor == expected
        assert (row.rate, row.rate_date, row.rate_source, row.problem) == (
            str(quote.rate),
            quote.rate_date,
            quote.source,
            None,
        )
