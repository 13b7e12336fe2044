"""Rates read exactly from the ECB data, the KWD walk, conversions, and id uniqueness."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billing_pipeline.sample.fx import RateBook, convert_minor, ecb_fixings
from billing_pipeline.sample.ids import IdFamily


def test_ecb_fixings_are_exact_decimals_from_the_shipped_zip():
    by_day = dict(ecb_fixings())
    # 2026-10-30 is the last fixing in the wheel: USD 1.1172, JPY 175.68, GBP 0.8338.
    assert by_day[date(2026, 10, 30)] == {
        "USD": Decimal("1.1172"),
        "JPY": Decimal("175.68"),
        "GBP": Decimal("0.8338"),
    }


def test_weekends_and_days_after_the_data_carry_the_last_fixing_forward():
    book = RateBook(date(2026, 10, 30), date(2026, 11, 3), seed=1)
    assert book.per_eur[date(2026, 11, 2)]["USD"] == Decimal("1.1172")
    assert book.ecb_date[date(2026, 11, 3)] == date(2026, 10, 30)


def test_eur_kwd_walk_stays_plausible_with_six_decimals():
    book = RateBook(date(2026, 1, 1), date(2026, 6, 30), seed=5)
    for rate in book.kwd.values():
        assert Decimal("0.33") <= rate <= Decimal("0.36")
        assert -rate.as_tuple().exponent == 6


def test_processor_rate_is_below_the_reference_by_its_markup():
    book = RateBook(date(2026, 10, 5), date(2026, 10, 5), seed=1)
    day = date(2026, 10, 5)
    reference = book.reference(day, "JPY", "USD")
    assert book.processor_rate(day, "stripe", "JPY", "USD") < reference
    assert abs(
        book.processor_rate(day, "stripe", "JPY", "USD") / reference - Decimal("0.99")
    ) < Decimal("1e-8")
    assert book.processor_rate(day, "adyen", "EUR", "EUR") == 1


@settings(max_examples=200)
@given(st.integers(0, 10**12), st.decimals(Decimal("0.0001"), Decimal("500"), places=6))
def test_conversion_is_within_half_a_minor_unit_of_the_exact_product(amount, rate):
    converted = convert_minor(amount, "KWD", "JPY", rate)  # 3 decimals -> 0 decimals
    exact = Decimal(amount) / 1000 * rate
    assert abs(Decimal(converted) - exact) <= Decimal("0.5")


@settings(max_examples=25)
@given(
    st.integers(0, 2**31),
    st.sampled_from(
        [
            ("hex", r"evt_[0-9a-f]{24}"),
            ("alnum", r"ch_[0-9A-Za-z]{24}"),
            ("digits16", r"[1-9]\d{15}"),
        ]
    ),
)
def test_id_families_never_repeat_and_keep_their_shape(seed, style_and_shape):
    style, shape = style_and_shape
    prefix = {"hex": "evt_", "alnum": "ch_", "digits16": ""}[style]
    family = IdFamily(seed, prefix, style)
    ids = [family.next() for _ in range(3000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(shape, i) for i in ids)
