import decimal
import time
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_pipeline.domain.fx import (
    RateBook,
    RateError,
    RateMissing,
    RateStale,
    ecb_history,
    parse_override,
    realized_gain_loss,
    to_functional,
)
from billing_pipeline.domain.posting import JournalEntry, JournalLine
from billing_pipeline.domain.rounding import RoundingRule, convert_minor, rounding_rule

FRI = date(2024, 1, 5)  # ECB row "2024-01-05,1.0921,158.57,...,0.8621,..." (USD, JPY, GBP)
SAT = date(2024, 1, 6)
CTX34 = decimal.Context(prec=34, rounding=decimal.ROUND_HALF_EVEN)


@pytest.fixture(scope="module")
def book():
    return RateBook.from_ecb()


# --- convert_minor: one rounding, exact ----------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "half_even", "half_up"),
    [(1, 0, 1), (3, 2, 2), (5, 2, 3), (-1, 0, -1), (-3, -2, -2), (-5, -2, -3)],
)
def test_half_way_eur_cents_to_yen(amount, half_even, half_up):
    # n cents at 50 JPY/EUR = n/2 yen exactly: 0.5, 1.5, 2.5 and their negatives.
    assert convert_minor(amount, "EUR", "JPY", Decimal(50), "half_even") == half_even
    assert convert_minor(amount, "EUR", "JPY", Decimal(50), "half_up") == half_up


def test_half_way_cent_to_fils_and_fils_to_yen():
    # 1 US cent at 0.05 KWD/USD = 0.0005 KWD = 0.5 fils; 1 fils at 500 JPY/KWD = 0.5 yen.
    assert convert_minor(1, "USD", "KWD", Decimal("0.05"), RoundingRule.HALF_EVEN) == 0
    assert convert_minor(1, "USD", "KWD", Decimal("0.05"), RoundingRule.HALF_UP) == 1
    assert convert_minor(-1, "KWD", "JPY", Decimal(500), RoundingRule.HALF_UP) == -1
    assert convert_minor(3, "KWD", "JPY", Decimal(500), RoundingRule.HALF_EVEN) == 2


def test_exact_conversions_between_exponents():
    assert convert_minor(10000, "USD", "KWD", Decimal("0.30705")) == 30705  # 100.00 -> 30.705
    assert convert_minor(12345, "JPY", "EUR", Decimal("0.0063")) == 7777  # 77.7735 EUR
    assert convert_minor(30705, "KWD", "USD", Decimal("3.2568")) == 10000  # 99.99999... USD


def test_truncating_rules_differ_by_direction():
    # n cents at 10 JPY/EUR = n/10 yen: 2.9, -2.9, 2.1.
    assert convert_minor(29, "EUR", "JPY", Decimal(10)) == 3  # 2.9 yen
    assert convert_minor(29, "EUR", "JPY", Decimal(10), "down") == 2
    assert convert_minor(-29, "EUR", "JPY", Decimal(10), "down") == -2
    assert convert_minor(-29, "EUR", "JPY", Decimal(10), "floor") == -3
    assert convert_minor(21, "EUR", "JPY", Decimal(10), "up") == 3


def test_bad_rule_and_rate_are_refused():
    with pytest.raises(ValueError, match="half_even"):
        rounding_rule("bankers")
    for rate in (Decimal(0), Decimal(-1), Decimal("NaN"), 1.1):
        with pytest.raises(ValueError, match="rate"):
            convert_minor(100, "EUR", "USD", rate)  # type: ignore[arg-type]


def _oracle(amount, shift, rate, rule):
    exact = Fraction(amount) * Fraction(rate) * Fraction(10) ** shift
    floor = exact.numerator // exact.denominator
    rest = exact - floor
    if rest != Fraction(1, 2):
        return floor + (rest > Fraction(1, 2))
    if rule == "half_up":
        return floor + 1 if exact > 0 else floor
    return floor + (floor % 2)


@settings(max_examples=200)
@given(
    st.integers(-(2**63) + 1, 2**63 - 1),
    st.sampled_from(["USD", "JPY", "KWD"]),
    st.sampled_from(["USD", "JPY", "KWD"]),
    st.decimals(min_value=Decimal("1e-12"), max_value=Decimal("1e6"), places=28),
    st.sampled_from(["half_even", "half_up"]),
)
def test_conversion_equals_exact_rational_arithmetic_rounded_once(amount, src, dst, rate, rule):
    shift = {"USD": 2, "JPY": 0, "KWD": 3}
    expected = _oracle(amount, shift[dst] - shift[src], rate, rule)
    assert convert_minor(amount, src, dst, rate, rule) == expected


# --- ECB rates -------------------------------------------------------------------------------


def test_ecb_rates_are_the_file_text_exactly(book):
    assert book.rate(FRI, "EUR", "USD").rate == Decimal("1.0921")
    assert book.rate(FRI, "EUR", "JPY").rate == Decimal("158.57")
    quote = book.rate(FRI, "EUR", "GBP")
    assert (quote.rate, quote.rate_date, quote.source) == (Decimal("0.8621"), FRI, "ecb")


def test_weekend_and_holiday_use_the_last_published_rate(book):
    assert book.rate(SAT, "EUR", "USD").rate_date == FRI
    christmas = book.rate(date(2024, 12, 25), "EUR", "USD")  # no fixing on 25/26 Dec
    assert (christmas.rate, christmas.rate_date) == (Decimal("1.0395"), date(2024, 12, 24))


def test_a_rate_older_than_the_allowed_staleness_is_an_error():
    strict = RateBook.from_ecb(max_staleness_days=1)
    with pytest.raises(RateStale, match="2024-12-24"):
        strict.rate(date(2024, 12, 26), "EUR", "USD")
    last = date(2026, 10, 30)  # the newest row of the shipped file
    assert RateBook.from_ecb().rate(last + timedelta(days=7), "EUR", "USD").rate_date == last
    with pytest.raises(RateStale):
        RateBook.from_ecb().rate(last + timedelta(days=8), "EUR", "USD")


def test_not_available_cells_are_no_rate_not_zero(book):
    # RUB: last published 2022-03-01 (117.201), "N/A" from 2022-03-02 on.
    assert book.rate(date(2022, 3, 2), "EUR", "RUB").rate == Decimal("117.201")
    with pytest.raises(RateStale):
        book.rate(date(2022, 6, 1), "EUR", "RUB")


def test_missing_currency_is_rate_missing(book):
    with pytest.raises(RateMissing, match="KWD"):
        book.rate(FRI, "EUR", "KWD")
    with pytest.raises(RateMissing):
        book.rate(date(1998, 12, 31), "EUR", "USD")  # before the history starts


def test_override_extends_ecb_and_feeds_crosses():
    book = RateBook.from_ecb([parse_override(FRI, "EUR", "KWD", "0.3357", source_line=2)])
    direct = book.rate(SAT, "EUR", "KWD")
    assert (direct.rate, direct.rate_date, direct.source) == (Decimal("0.3357"), FRI, "override")
    cross = book.rate(FRI, "USD", "KWD")
    assert cross.rate == CTX34.divide(Decimal("0.3357"), Decimal("1.0921"))
    assert cross.source == "cross"


def test_override_replaces_ecb_only_on_its_date():
    book = RateBook.from_ecb([parse_override(FRI, "EUR", "USD", "1.1000")])
    assert book.rate(FRI, "EUR", "USD").source == "override"
    assert book.rate(FRI, "EUR", "USD").rate == Decimal("1.1000")
    assert book.rate(date(2024, 1, 4), "EUR", "USD").rate == Decimal("1.0953")


def test_conflicting_and_malformed_overrides_are_refused():
    rows = [
        parse_override(FRI, "EUR", "KWD", "0.3357", 2),
        parse_override(FRI, "EUR", "KWD", "0.34", 3),
    ]
    with pytest.raises(RateError, match=r"line 2.*line 3"):
        RateBook.from_ecb(rows)
    for text in ("1,23", "abc", "-1", "0", "1e3", ""):
        with pytest.raises(RateError):
            parse_override(FRI, "EUR", "KWD", text)
    with pytest.raises(RateError, match="XYZ"):
        parse_override(FRI, "EUR", "XYZ", "1.0")


def test_cross_and_inverse_are_exact_quotients_at_34_digits(book):
    cross = book.rate(FRI, "GBP", "JPY")
    assert cross.rate == CTX34.divide(Decimal("158.57"), Decimal("0.8621"))
    assert abs(cross.rate * Decimal("0.8621") - Decimal("158.57")) < Decimal("1e-29")
    assert book.rate(FRI, "USD", "EUR").rate == CTX34.divide(1, Decimal("1.0921"))
    assert book.rate(FRI, "JPY", "JPY").rate == 1


def test_full_history_loads_fast():
    ecb_history.cache_clear()
    started = time.process_time()
    history = ecb_history()
    assert time.process_time() - started < 1.0
    assert len(history["USD"][0]) > 6000


# --- functional amounts ---------------------------------------------------------------------


def line(no, account, ccy, debit, credit):
    return JournalLine(no, account, ccy, debit, credit)


def flat_book(rate):
    return RateBook({}, [parse_override(FRI, "EUR", "USD", rate)])


def test_worked_example_residue_goes_to_rounding():
    # 0.01 + 0.01 EUR = 0.02 EUR at 1.5 USD/EUR: each cent is 1.5 US cents -> 2 (half-even),
    # the two cents together 3 US cents; debits 4 vs credits 3: 1 cent credited to rounding.
    entry = JournalEntry(
        "t", "e1", (line(1, "assets:a", "EUR", 1, 0), line(2, "assets:b", "EUR", 1, 0),
                    line(3, "income:revenue", "EUR", 0, 2)),
    )  # fmt: skip
    result = to_functional(entry, flat_book("1.5"), FRI, "USD")
    assert [x.functional_debit_minor for x in result.lines] == [2, 2, 0, 0]
    assert [x.functional_credit_minor for x in result.lines] == [0, 0, 3, 1]
    rounding = result.lines[-1]
    assert (rounding.line_no, rounding.account, rounding.debit_minor) == (4, "expenses:rounding", 0)
    assert result.rounding_minor == -1
    down = to_functional(entry, flat_book("1.5"), FRI, "USD", "down")  # 1 + 1 vs 3
    assert (down.lines[-1].functional_debit_minor, down.rounding_minor) == (1, 1)


def test_lines_record_the_rate_used_and_an_entry_balanced_in_usd_has_no_rounding(book):
    entry = JournalEntry(
        "t", "e1", (line(1, "assets:a", "EUR", 10000, 0), line(2, "income:r", "EUR", 0, 10000))
    )
    result = to_functional(entry, book, SAT, "USD")
    assert len(result.lines) == 2 and result.rounding_minor == 0
    first = result.lines[0]
    assert first.functional_debit_minor == 10921  # 100.00 EUR * 1.0921
    assert (first.rate, first.rate_date, first.rate_source) == (Decimal("1.0921"), FRI, "ecb")


def test_a_currency_without_rate_holds_the_whole_entry_back(book):
    entry = JournalEntry(
        "t", "e1", (line(1, "assets:a", "KWD", 5, 0), line(2, "income:r", "KWD", 0, 5))
    )
    with pytest.raises(RateMissing):
        to_functional(entry, book, FRI, "USD")


def test_realized_gain_worked_example():
    # 1,000.00 EUR receivable booked at 1.0921 (1,092.10 USD), settled at 1.0946 (1,094.60 USD).
    assert realized_gain_loss(100000, "EUR", Decimal("1.0921"), Decimal("1.0946"), "USD") == 250
    assert realized_gain_loss(-100000, "EUR", Decimal("1.0921"), Decimal("1.0946"), "USD") == -250
    # 12,345 JPY: booked 12345 * 0.006789 = 83.810205 USD -> 8381 cents; settled at 0.006801
    # = 83.958345 USD -> 8396 cents; each leg rounded once as booked: gain 15 cents.
    assert realized_gain_loss(12345, "JPY", Decimal("0.006789"), Decimal("0.006801")) == 15


CURRENCIES = ["USD", "EUR", "GBP", "JPY", "KWD", "CHF"]


@st.composite
def balanced_entries(draw):
    lines, budget = [], draw(st.integers(2, 6))
    while budget >= 2:
        size = draw(st.integers(2, budget))
        budget -= size
        ccy = draw(st.sampled_from(CURRENCIES))
        parts = draw(st.lists(st.integers(1, 10**12), min_size=size - 1, max_size=size - 1))
        many_debits = draw(st.booleans())
        for amount in parts:
            lines.append((ccy, amount, 0) if many_debits else (ccy, 0, amount))
        lines.append((ccy, 0, sum(parts)) if many_debits else (ccy, sum(parts), 0))
    return JournalEntry(
        "t", "e", tuple(line(i + 1, "assets:x", *spec) for i, spec in enumerate(lines))
    )


@pytest.fixture(scope="module")
def book_with_kwd():
    return RateBook.from_ecb([parse_override(FRI, "EUR", "KWD", "0.3357")])


@settings(max_examples=150)
@given(
    balanced_entries(),
    st.sampled_from(["USD", "EUR", "JPY", "KWD"]),
    st.sampled_from(["half_even", "half_up"]),
)
def test_functional_conversion_never_unbalances_an_entry(book_with_kwd, entry, functional, rule):
    result = to_functional(entry, book_with_kwd, SAT, functional, rule)
    assert sum(x.functional_debit_minor for x in result.lines) == sum(
        x.functional_credit_minor for x in result.lines
    )
    assert abs(result.rounding_minor) * 2 <= len(entry.lines)
    for ccy in {x.currency for x in result.lines}:
        same = [x for x in result.lines if x.currency == ccy]
        assert sum(x.debit_minor for x in same) == sum(x.credit_minor for x in same)
    for original, converted in zip(entry.lines, result.lines, strict=False):
        rate = converted.rate
        assert converted.functional_debit_minor == convert_minor(
            original.debit_minor, original.currency, functional, rate, rule
        )
