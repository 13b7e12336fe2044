"""Properties of every parser: nothing lost, nothing but UnreadableFile escapes."""

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_pipeline.formats import (
    adyen,
    bai2,
    bank_csv,
    camt053,
    events_jsonl,
    mt940,
    rates_csv,
    stripe,
)
from billing_pipeline.formats.base import UnreadableFile

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Garbage that stays on one physical line and one CSV record (no quotes, no line breaks).
GARBAGE = st.text(
    st.characters(blacklist_characters='"\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029', codec="utf-8"),
    max_size=40,
)

BANK_HEADER = (
    "account_id,booking_date,value_date,amount,currency,reference,description,counterparty"
)
GOOD_BANK = st.builds(
    lambda day, cents, ref: f"ACC,2024-05-{day:02d},,{cents / 100:.2f},EUR,{ref},text,party",
    st.integers(1, 28),
    st.integers(-(10**9), 10**9),
    st.text("0123456789", min_size=1, max_size=25),
)
GOOD_EVENT = st.builds(
    lambda n, amount: json.dumps(
        {
            "event_id": f"e{n}",
            "type": "invoice.sent",
            "occurred_at": "2024-05-01T00:00:00Z",
            "amount_minor": amount,
        }
    ),
    st.integers(0, 10**6),
    st.integers(-(2**63) + 1, 2**63 - 1),
)
GOOD_RATE = st.builds(
    lambda day, rate: f"2024-05-{day:02d},EUR,USD,{rate}",
    st.integers(1, 28),
    st.decimals(min_value="0.0001", max_value="1000", places=4).map(str),
)


def check_nothing_lost(result, lines: list[str], first_data_line: int) -> None:
    expected = {number for number, line in enumerate(lines, start=first_data_line) if line.strip()}
    seen = [r.line_no for r in result.rejected]
    for frame in result.frames.values():
        seen.extend(frame["source_line"].to_list())
    assert sorted(seen) == sorted(expected)
    assert result.rows_read == len(expected)


@SETTINGS
@given(st.lists(st.one_of(GOOD_BANK, GARBAGE), max_size=25))
def test_bank_csv_every_line_is_a_row_or_a_rejection(lines):
    content = "\n".join([BANK_HEADER, *lines]).encode()
    check_nothing_lost(bank_csv.parse(content, "x.csv"), lines, 2)


@SETTINGS
@given(st.lists(st.one_of(GOOD_RATE, GARBAGE), max_size=25))
def test_rates_csv_every_line_is_a_row_or_a_rejection(lines):
    content = "\r\n".join(["date,base_currency,quote_currency,rate", *lines]).encode()
    check_nothing_lost(rates_csv.parse(content, "x.csv"), lines, 2)


@SETTINGS
@given(st.lists(st.one_of(GOOD_EVENT, GARBAGE), min_size=1, max_size=25))
def test_events_jsonl_every_line_is_an_event_or_a_rejection(lines):
    content = "\n".join(lines).encode()
    try:
        result = events_jsonl.parse(content, "e.jsonl")
    except UnreadableFile:
        assert not content.strip()
        return
    check_nothing_lost(result, lines, 1)


STRIPE_HEADER = "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category"
GOOD_STRIPE = st.builds(
    lambda n, cents: (
        f"txn_{n},2024-05-01 10:00:00,usd,{cents / 100:.2f},0.00,{cents / 100:.2f},charge"
    ),
    st.integers(0, 10**6),
    st.integers(-(10**7), 10**7),
)


@SETTINGS
@given(st.lists(st.one_of(GOOD_STRIPE, GARBAGE), max_size=25))
def test_stripe_every_line_is_a_row_or_a_rejection(lines):
    content = "\n".join([STRIPE_HEADER, *lines]).encode()
    check_nothing_lost(stripe.parse(content, "x.csv"), lines, 2)


PARSERS = [stripe.parse, adyen.parse, bank_csv.parse, rates_csv.parse, events_jsonl.parse,
           camt053.parse, mt940.parse, bai2.parse]  # fmt: skip


@pytest.mark.parametrize("parse", PARSERS, ids=lambda p: p.__module__.rsplit(".", 1)[-1])
@settings(max_examples=40, deadline=None)
@given(content=st.one_of(st.binary(max_size=300), GARBAGE.map(str.encode)))
def test_arbitrary_bytes_raise_nothing_but_unreadable_file(parse, content):
    with contextlib.suppress(UnreadableFile):
        parse(content, "fuzz")


REAL = Path(__file__).parents[1] / "fixtures" / "real"
BANK_SAMPLES = [
    (parser, path.read_bytes())
    for folder, parser in (("camt053", camt053.parse), ("mt940", mt940.parse), ("bai2", bai2.parse))
    for path in sorted((REAL / folder).iterdir())
]


@settings(max_examples=150, deadline=None)
@given(
    sample=st.sampled_from(BANK_SAMPLES),
    cut=st.floats(0, 1),
    flips=st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=3)), max_size=4),
)
def test_damaged_real_bank_files_raise_nothing_but_unreadable_file(sample, cut, flips):
    parse, content = sample
    damaged = bytearray(content[: int(len(content) * cut)])
    for where, junk in flips:
        position = int(len(damaged) * where)
        damaged[position : position + len(junk)] = junk
    try:
        result = parse(bytes(damaged), "damaged")
    except UnreadableFile:
        return
    for rejected in result.rejected:
        assert rejected.reason
