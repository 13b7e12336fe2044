"""A match's evidence is written as the same bytes `json_object` would write.

Decisions are events compared by payload: a date reconciled again after an upgrade must write
byte-identical evidence, or every one of its decisions becomes a conflict. The evidence is
serialised from structs for speed (`criteria.rule_evidence`); this pins it to the
`json_array(json_object(...))` text it replaced, for any mix of operators and tolerances and
any values, quotes, backslashes, control characters and non-ASCII text included.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_pipeline.recon.criteria import evidence_fields, install_macros, rule_evidence
from billing_pipeline.recon.rules import Criterion, Tolerance

TEXT_FIELDS = ("reference", "remittance")
TOLERANCES = (
    ("amount_minor", Tolerance(minor=50)),
    ("amount_minor", Tolerance(percent=Decimal("2.5"), direction="after")),
    ("booked_on", Tolerance(days=3, direction="before")),
    ("booked_on", Tolerance(business_days=2)),
)


def _criterion(draw) -> Criterion:
    """One criterion of any operator, on the text, amount or date fields of an item."""
    kind = draw(st.sampled_from(("equals", "contains", "regex", "literal", "any_of", "within")))
    field = draw(st.sampled_from(TEXT_FIELDS))
    if kind == "equals":
        return Criterion(f"right.{field}", "equals", (f"left.{field}",))
    if kind == "contains":
        return Criterion(f"right.{field}", "contains", (f"left.{field}",))
    if kind == "regex":
        return Criterion(f"right.{field}", "regex", ("left.reference",), pattern=r"(INV-\d+)")
    if kind == "literal":
        return Criterion(f"right.{field}", "equals", ("'EUR'",))
    if kind == "any_of":
        return Criterion(f"right.{field}", "equals", ("left.reference", "left.remittance"))
    name, tolerance = draw(st.sampled_from(TOLERANCES))
    return Criterion(f"right.{name}", "within", (f"left.{name}",), tolerance=tolerance)


@st.composite
def criteria_lists(draw) -> tuple[Criterion, ...]:
    return tuple(_criterion(draw) for _ in range(draw(st.integers(1, 6))))


texts = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.sampled_from(["INV-12", 'a"b', "back\\slash", "tab\there", "\u00e9t\u00e9 \u20ac", "\x01"]),
)
items = st.fixed_dictionaries(
    {
        "reference": texts,
        "remittance": texts,
        "amount_minor": st.one_of(st.none(), st.integers(-(10**12), 10**12)),
        "booked_on": st.one_of(
            st.none(),
            st.dates(date(2000, 1, 1), date(2040, 1, 1)),
        ),
    }
)


def _relation(values: dict) -> str:
    def literal(value) -> str:
        if value is None:
            return "null"
        if isinstance(value, date):
            return f"date '{value.isoformat()}'"
        if isinstance(value, int):
            return f"{value}::bigint"
        return "'" + value.replace("'", "''") + "'"

    types = {"reference": "varchar", "remittance": "varchar", "amount_minor": "bigint",
             "booked_on": "date"}  # fmt: skip
    return ", ".join(f"{literal(v)}::{types[k]} as {k}" for k, v in values.items())


def _json_object_text(criteria: tuple[Criterion, ...]) -> str:
    """The evidence as it was built before: one json_object per criterion in a json_array."""
    objects = [
        "json_object(" + ", ".join(f"'{key}', {value}" for key, value in evidence_fields(c)) + ")"
        for c in criteria
    ]
    return f"json_array({', '.join(objects)})::varchar"


@settings(max_examples=150, deadline=None)
@given(criteria=criteria_lists(), left=items, right=items)
def test_the_evidence_text_is_what_json_object_writes(criteria, left, right):
    conn = duckdb.connect()
    install_macros(conn)
    pair = f"(select {_relation(left)}) l, (select {_relation(right)}) r"
    new, old = conn.execute(
        f"select {rule_evidence(criteria)}, {_json_object_text(criteria)} from {pair}"
    ).fetchone()
    assert new == old


def test_rules_with_and_without_tolerances_take_both_serialisations():
    """Both paths of `rule_evidence` (one list; joined texts) are exercised and agree."""
    exact = (Criterion("right.reference", "equals", ("left.reference",)),)
    mixed = (*exact, Criterion("right.booked_on", "within", ("left.booked_on",),
                               tolerance=Tolerance(days=2)))  # fmt: skip
    assert rule_evidence(exact).startswith("to_json([")
    assert rule_evidence(mixed).startswith("'[' || ")
    conn = duckdb.connect()
    install_macros(conn)
    day = date(2026, 10, 7)
    pair = (
        f"(select {_relation({'reference': 'x', 'booked_on': day})}) l, "
        f"(select {_relation({'reference': 'x', 'booked_on': day + timedelta(days=1)})}) r"
    )
    for criteria in (exact, mixed):
        new, old = conn.execute(
            f"select {rule_evidence(criteria)}, {_json_object_text(criteria)} from {pair}"
        ).fetchone()
        assert new == old
    (text,) = conn.execute(f"select {rule_evidence(mixed)} from {pair}").fetchone()
    assert '"difference":1' in text
