"""The set-based conversion (`fx_convert`) gives exactly what `convert_minor` gives, row for
row, for every 64-bit amount, every rounding rule and the real ECB rates (34-digit crosses)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from billing_pipeline.domain.fx import RateBook, RateError, ecb_history
from billing_pipeline.domain.rounding import RoundingRule, convert_minor
from billing_pipeline.warehouse.fx_convert import convert_columns, fraction_row, rate_fraction

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
# Small amounts make exact ties (x.5) likely with short rates; huge ones test the limbs.
AMOUNTS = st.one_of(INT64, st.integers(-(10**6), 10**6), st.integers(-(2**40), 2**40))
FUNCTIONAL = st.sampled_from(["USD", "EUR", "JPY", "KWD", "GBP"])
BOOK = RateBook.from_ecb()
CURRENCIES = sorted({"EUR", *ecb_history()})
ECB_DAYS = sorted({day for days, _, _ in ecb_history().values() for day in days})


@st.composite
def ecb_rates(draw) -> tuple[str, str, str]:
    """(from currency, functional currency, rate text) as the journal quotes it on an ECB day."""
    functional = draw(FUNCTIONAL)
    currency = draw(st.sampled_from(CURRENCIES))
    on = date.fromordinal(draw(st.sampled_from(ECB_DAYS)))
    try:
        quote = BOOK.rate(on, currency, functional)
    except RateError:
        assume(False)
    return currency, functional, str(quote.rate)


def reference(amount: int, currency: str, functional: str, rate: str, rule) -> int | None:
    """convert_minor, or None where the result does not fit the journal's 64-bit columns."""
    result = convert_minor(amount, currency, functional, Decimal(rate), rule)
    return result if -(2**63) <= result < 2**63 else None


def convert(rows: list[tuple[str, str, int]], functional: str, rule) -> list[int] | None:
    frame = pl.DataFrame(
        rows, schema={"currency": pl.Utf8, "rate": pl.Utf8, "amount": pl.Int64}, orient="row"
    )
    try:
        return convert_columns(frame, {"out": "amount"}, functional, rule)["out"].to_list()
    except OverflowError:
        return None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    rate=ecb_rates(),
    amounts=st.lists(AMOUNTS, min_size=1, max_size=40),
    rule=st.sampled_from(list(RoundingRule)),
)
def test_set_based_conversion_equals_convert_minor_on_real_ecb_rates(rate, amounts, rule):
    currency, functional, text = rate
    expected = [reference(a, currency, functional, text, rule) for a in amounts]
    got = convert([(currency, text, a) for a in amounts], functional, rule)
    if None in expected:
        assert got is None  # an amount too big for 64 bits is an error, never a wrong number
    else:
        assert got == expected


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["JPY", "EUR", "KWD", "USD"]),
            st.sampled_from(["0.5", "1.25", "2.5", "0.005", "1", "150", "0.0125"]),
            st.integers(-(10**6), 10**6),
        ),
        min_size=1,
        max_size=30,
    ),
    rule=st.sampled_from(list(RoundingRule)),
)
def test_exact_ties_round_like_convert_minor_under_every_rule(rows, rule):
    # Short rates and small amounts land exactly on x.5 often: the tie rules must agree.
    expected = [reference(a, c, "USD", r, rule) for c, r, a in rows]
    assert convert(rows, "USD", rule) == expected


def test_a_hand_computed_half_even_tie_and_a_34_digit_cross_rate():
    # 5 cents at 0.5 = 2.5 -> 2 (even); 15 cents -> 7.5 -> 8; -5 -> -2.
    assert convert(
        [("EUR", "0.5", 5), ("EUR", "0.5", 15), ("EUR", "0.5", -5)], "USD", "half_even"
    ) == [2, 8, -2]
    # 2024-05-02: 1 JPY = 0.006458974823401557688824488317333816 USD (ECB JPY and USD legs);
    # 10,000,000 JPY = 64,589.748234... USD = 6,458,975 cents.
    text = str(BOOK.rate(date(2024, 5, 2), "JPY", "USD").rate)
    assert text == "0.006458974823401557688824488317333816"
    assert convert([("JPY", text, 10_000_000)], "USD", "half_even") == [6_458_975]


def test_rates_too_long_for_the_limbs_fall_back_to_the_reference_and_agree():
    text = "1.2345678901234567890123456789012345678901"  # 41 digits
    assert fraction_row(Decimal(text), "EUR", "USD")["_vector"] is False
    amounts = [1, -1, 12345, -(2**40), 2**50, 0]
    rows = [("EUR", text, a) for a in amounts] + [("JPY", "0.0067", a) for a in amounts]
    expected = [reference(a, c, "USD", r, "half_even") for c, r, a in rows]
    assert convert(rows, "USD", "half_even") == expected  # order kept across both paths


def test_a_result_beyond_64_bits_raises_instead_of_wrapping():
    assert convert([("GBP", "1.25", 2**63 - 1)], "USD", "half_even") is None
    with pytest.raises(OverflowError):
        convert_columns(
            pl.DataFrame({"currency": ["GBP"], "rate": ["1.25"], "amount": [2**63 - 1]}),
            {"out": "amount"},
            "USD",
            "half_even",
        )


def test_rate_fraction_folds_the_currency_exponents_into_the_scale():
    # 1 JPY (exp 0) = 0.0067 USD (exp 2): amount * 67 / 10^(4 - 2).
    assert rate_fraction(Decimal("0.0067"), "JPY", "USD") == (67, 2)
    # 1 USD (exp 2) = 150 JPY (exp 0): 150 yen per 100 cents.
    assert rate_fraction(Decimal("150"), "USD", "JPY") == (150, 2)
    # 1 KWD (exp 3) = 3.25 USD: amount * 325 / 10^3.
    assert rate_fraction(Decimal("3.25"), "KWD", "USD") == (325, 3)
