"""validate(): amounts to minor units, pandera checks mapped back to rows, nothing lost."""

import json
from datetime import UTC, date, datetime

import pandera.polars as pa
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_pipeline.formats.base import FRAMES, conform
from billing_pipeline.schemas import validate
from billing_pipeline.schemas.models import BankLine


def settlement(**overrides) -> dict:
    row = {
        "processor": "stripe",
        "line_ref": "txn_1",
        "line_type": "charge",
        "processor_ref": "ch_1",
        "occurred_at": datetime(2024, 5, 1, 10, tzinfo=UTC),
        "currency": "USD",
        "gross_amount": "12.00",
        "fee_amount": "0.65",
        "net_amount": "11.35",
        "original_currency": "EUR",
        "original_amount": "11.05",
        "exchange_rate": "1.086",
        "source_line": 2,
    }
    return {**row, **overrides}


def bank_line(**overrides) -> dict:
    row = {
        "bank_format": "camt053",
        "account_id": "CH1111111111111111111",
        "booking_date": date(2024, 5, 2),
        "currency": "EUR",
        "amount": "-20.97",
        "entry_ref": "12345678901234567890",
        "source_line": 7,
    }
    return {**row, **overrides}


def frame(name: str, rows: list[dict]) -> pl.DataFrame:
    schema = FRAMES[name]
    return conform(name, pl.DataFrame([{c: r.get(c) for c in schema} for r in rows], schema=schema))


def test_pandera_failure_cases_index_is_the_row_position_of_the_eager_frame():
    rows = pl.DataFrame(
        {
            "bank_format": ["csv"] * 3,
            "account_id": ["A", None, "C"],
            "statement_id": [None] * 3,
            "entry_ref": [None] * 3,
            "end_to_end_ref": [None] * 3,
            "booking_date": [date(2024, 1, 1), date(2024, 1, 1), date(1970, 1, 1)],
            "value_date": [None] * 3,
            "currency": ["EUR"] * 3,
            "amount_minor": [1, 2, 3],
            "tx_code": [None] * 3,
            "counterparty": [None] * 3,
            "remittance_info": [None] * 3,
            "source_line": [10, 11, 12],
        },
        schema_overrides={
            "value_date": pl.Date,
            **dict.fromkeys(
                [
                    "statement_id",
                    "entry_ref",
                    "end_to_end_ref",
                    "tx_code",
                    "counterparty",
                    "remittance_info",
                ],
                pl.Utf8,
            ),
        },
    )
    with pytest.raises(pa.errors.SchemaErrors) as caught:
        BankLine.validate(rows, lazy=True)
    cases = caught.value.failure_cases
    assert sorted(zip(cases["column"], cases["index"], strict=True)) == [
        ("account_id", 1),
        ("booking_date", 2),
    ]


def test_valid_settlement_line_is_converted_to_minor_units_in_each_currency():
    valid, rejected = validate("settlement_lines", frame("settlement_lines", [settlement()]))
    assert rejected.height == 0
    row = valid.to_dicts()[0]
    assert (row["gross_minor"], row["fee_minor"], row["net_minor"], row["original_minor"]) == (
        1200,
        65,
        1135,
        1105,
    )
    assert "gross_amount" not in valid.columns


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (
            settlement(gross_amount="1.005", fee_amount="0", net_amount="1.005"),
            "gross_amount: '1.005' has 3 decimals; USD allows 2",
        ),
        (
            settlement(original_currency="JPY", original_amount="1.5"),
            "original_amount: '1.5' has 1 decimals; JPY allows 0",
        ),
        (settlement(currency="XYZ"), "gross_amount: unknown or retired currency code 'XYZ'"),
        (
            settlement(
                gross_amount="99999999999999999999",
                net_amount="99999999999999999999",
                fee_amount="0",
            ),
            "exceeds 64-bit minor units",
        ),
        (settlement(net_amount="11.36"), "row failed net_equals_gross_minus_fee"),
        (settlement(line_type="payment"), "line_type failed isin"),
        (settlement(processor="paypal"), "processor failed isin"),
        (settlement(line_ref=None), "line_ref failed not_nullable"),
        (
            settlement(occurred_at=datetime(1989, 12, 31, tzinfo=UTC)),
            "occurred_at failed year_between_1990_and_2100",
        ),
        (settlement(exchange_rate="0"), "exchange_rate failed positive_decimal"),
    ],
)
def test_bad_settlement_lines_are_rejected_with_a_reason_naming_column_and_check(row, reason):
    good = settlement(line_ref="txn_good", source_line=3)
    valid, rejected = validate("settlement_lines", frame("settlement_lines", [row, good]))
    assert valid["line_ref"].to_list() == ["txn_good"]
    [bad] = rejected.to_dicts()
    assert bad["source_line"] == 2
    assert reason in bad["reason"]
    assert json.loads(bad["raw_record"])["line_ref"] == row["line_ref"]


def test_several_failures_on_one_row_reject_it_once_with_joined_reasons():
    row = bank_line(bank_format="ofx", account_id=None, booking_date=date(2200, 1, 1))
    valid, rejected = validate("bank_lines", frame("bank_lines", [row]))
    assert valid.height == 0
    [bad] = rejected.to_dicts()
    assert bad["reason"].count("; ") == 2
    assert "bank_format failed isin" in bad["reason"] and "account_id failed" in bad["reason"]


def test_repeated_line_ref_keeps_the_first_and_rejects_the_repeat():
    rows = [settlement(source_line=2), settlement(source_line=5)]
    valid, rejected = validate("settlement_lines", frame("settlement_lines", rows))
    assert valid["source_line"].to_list() == [2]
    assert rejected.to_dicts()[0]["reason"] == "duplicate line_ref 'txn_1' (first on line 2)"


def test_processor_payout_must_be_positive_and_negative_zero_is_zero():
    rows = [
        {
            "processor": "stripe",
            "payout_ref": f"po_{amount}",
            "created_at": datetime(2024, 5, 1, tzinfo=UTC),
            "currency": "GBP",
            "amount": amount,
            "source_line": n,
        }
        for n, amount in enumerate(["250.00", "-20.35", "-0.00"], start=2)
    ]
    valid, rejected = validate("payouts", frame("payouts", rows))
    assert valid["amount_minor"].to_list() == [25000]
    assert [r["source_line"] for r in rejected.to_dicts()] == [3, 4]
    assert all("amount_minor failed greater_than(0)" in r for r in rejected["reason"])


def test_long_references_keep_every_digit_through_validation():
    valid, _ = validate("bank_lines", frame("bank_lines", [bank_line()]))
    assert valid["entry_ref"].to_list() == ["12345678901234567890"]
    assert valid["amount_minor"].to_list() == [-2097]


def test_events_and_rates_checks():
    events = frame(
        "billing_events",
        [
            {
                "event_id": "e1",
                "type": "t",
                "occurred_at": datetime(2024, 5, 1, tzinfo=UTC),
                "currency": "EUR",
                "processor": "stripe",
                "payload": "{}",
                "source_line": 1,
            },
            {
                "event_id": "e2",
                "type": "t",
                "occurred_at": datetime(2024, 5, 1, tzinfo=UTC),
                "currency": "EURO",
                "processor": "paypal",
                "payload": "{}",
                "source_line": 2,
            },
        ],
    )
    valid, rejected = validate("billing_events", events)
    assert valid["event_id"].to_list() == ["e1"]
    assert "currency failed active_iso4217_currency" in rejected["reason"][0]
    rates = frame(
        "rates",
        [
            {
                "rate_date": date(2024, 5, 2),
                "base_currency": "EUR",
                "quote_currency": "USD",
                "rate": "1.0731",
                "source_line": 2,
            },
            {
                "rate_date": date(2024, 5, 2),
                "base_currency": "EUR",
                "quote_currency": "EUR",
                "rate": "0.000",
                "source_line": 3,
            },
        ],
    )
    valid, rejected = validate("rates", rates)
    assert valid["rate"].to_list() == ["1.0731"]
    assert "positive_decimal" in rejected["reason"][0] and "base_differs" in rejected["reason"][0]


def test_unknown_frame_name_is_an_error():
    with pytest.raises(ValueError, match="unknown frame"):
        validate("ledger", pl.DataFrame())


AMOUNTS = st.one_of(
    st.integers(-(10**12), 10**12).map(lambda c: f"{c / 100:.2f}"),
    st.sampled_from(["1.005", "abc", "", "-0", "99999999999999999999", "1e3", " 7.5 "]),
)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            AMOUNTS,
            st.sampled_from(["EUR", "JPY", "KWD", "XYZ", None]),
            st.sampled_from(["camt053", "csv", "ofx"]),
            st.dates(date(1950, 1, 1), date(2150, 1, 1)),
            st.sampled_from(["ACC", None]),
        ),
        max_size=30,
    )
)
def test_every_row_is_either_valid_or_rejected_exactly_once(rows):
    df = frame(
        "bank_lines",
        [
            bank_line(
                amount=a, currency=c, bank_format=f, booking_date=d, account_id=acc, source_line=i
            )
            for i, (a, c, f, d, acc) in enumerate(rows, start=2)
        ],
    )
    valid, rejected = validate("bank_lines", df)
    assert valid.height + rejected.height == df.height
    assert sorted(valid["source_line"].to_list() + rejected["source_line"].to_list()) == list(
        range(2, 2 + df.height)
    )
    assert rejected["reason"].null_count() == 0
    assert valid.schema == pl.Schema(
        {c: BankLine.to_schema().columns[c].dtype.type for c in BankLine.to_schema().columns}
    )
