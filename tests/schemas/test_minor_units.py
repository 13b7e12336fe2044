"""The stepwise minor-units conversion gives what `minor_units_expr` gives, reasons included."""

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_pipeline.domain.money import minor_units_expr
from billing_pipeline.schemas.minor_units import with_minor_units

AMOUNTS = st.one_of(
    st.none(),
    st.from_regex(r"\A ?[+-]?[0-9]{0,21}(\.[0-9]{0,5})? ?\Z"),
    st.sampled_from(
        ["", "1e5", "1,50", "٣", "-0", "+.5", "9223372036854775807", "92233720368547758.08"]
    ),
    st.text(max_size=5),
)
CURRENCIES = st.one_of(
    st.none(), st.sampled_from(["EUR", "JPY", "KWD", "USD", "XAU", "eur", "ABC"])
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(AMOUNTS, CURRENCIES), min_size=1, max_size=30))
def test_stepwise_conversion_equals_the_expression(rows):
    frame = pl.DataFrame(rows, schema={"a": pl.Utf8, "c": pl.Utf8}, orient="row")
    value, reason = minor_units_expr("a", "c")
    expected = frame.select(value.alias("m"), reason.alias("r"))
    assert with_minor_units(frame, "a", "c", "m", "r").select("m", "r").equals(expected)
