"""Bank CSV, rates CSV and the JSON Lines event log: edge cases pinned one by one."""

from datetime import UTC, date, datetime

import pytest

from billing_pipeline.formats import bank_csv, events_jsonl, rates_csv
from billing_pipeline.formats.bank_csv import CsvMapping
from billing_pipeline.formats.base import UnreadableFile

BANK_HEADER = (
    "account_id,booking_date,value_date,amount,currency,reference,description,counterparty\n"
)


def bank(*rows: str) -> bytes:
    return (BANK_HEADER + "".join(f"{r}\n" for r in rows)).encode()


def test_bank_csv_default_mapping_reads_signed_amounts_and_keeps_long_refs():
    result = bank_csv.parse(
        bank(
            "DE02100100100006820101,2024-05-02,2024-05-03,-12.50,eur,12345678901234567890,Rent,Landlord",
            'DE02100100100006820101,2024-05-02,,"1000",EUR,,"PO po_1, batch 7",',
        ),
        "bank.csv",
    )
    first, second = result.frames["bank_lines"].to_dicts()
    assert (first["amount"], first["currency"], first["entry_ref"]) == (
        "-12.50",
        "EUR",
        "12345678901234567890",
    )
    assert (first["booking_date"], first["value_date"]) == (date(2024, 5, 2), date(2024, 5, 3))
    assert (second["amount"], second["remittance_info"], second["value_date"]) == (
        "1000",
        "PO po_1, batch 7",
        None,
    )
    assert [first["source_line"], second["source_line"]] == [2, 3]


def test_bank_csv_debit_credit_columns_semicolons_and_comma_decimals():
    mapping = CsvMapping(
        account_id="Konto",
        booking_date="Buchungstag",
        currency="Waehrung",
        debit="Soll",
        credit="Haben",
        remittance_info="Verwendungszweck",
        date_format="%d.%m.%Y",
        decimal_separator=",",
        delimiter=";",
    )
    content = (
        b"Konto;Buchungstag;Soll;Haben;Waehrung;Verwendungszweck\n"
        b"DE1;02.05.2024;12,50;;EUR;Miete\n"
        b"DE1;03.05.2024;;100,00;EUR;Zahlung\n"
        b"DE1;04.05.2024;;;EUR;leer\n"
    )
    result = bank_csv.parse(content, "x.csv", mapping)
    assert result.frames["bank_lines"]["amount"].to_list() == ["-12.50", "100.00"]
    assert [(r.line_no, r.reason) for r in result.rejected] == [
        (4, "both Soll and Haben are empty")
    ]


def test_mapping_needs_amount_or_both_sides():
    with pytest.raises(ValueError, match="either"):
        CsvMapping(account_id="a", booking_date="b", currency="c", debit="d")


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("A,2024-02-30,,1.00,EUR,r,d,c", "bad date '2024-02-30' in booking_date"),
        ("A,2024-05-02,,1.000,00,EUR,r,d,c", "expected 8 fields"),
        ("A,2024-05-02,,12e3,EUR,r,d,c", "amount '12e3' is not a decimal amount"),
        ("A,2024-05-02,,1.00,EURO,r,d,c", "currency 'EURO' is not a three-letter currency code"),
        (",2024-05-02,,1.00,EUR,r,d,c", "account_id is empty"),
        ("A,2024-05-02,,1.00,EUR,r,d,c,extra", "expected 8 fields"),
    ],
)
def test_bank_csv_bad_rows_are_rejected_with_a_reason(row, reason):
    result = bank_csv.parse(bank(row), "x.csv")
    [rejected] = result.rejected
    assert rejected.line_no == 2 and reason in rejected.reason and rejected.raw_record == row


def test_negative_zero_is_zero_and_bom_is_tolerated():
    content = b"\xef\xbb\xbf" + bank("A,2024-05-02,,-0.00,EUR,r,d,c", "A,2024-05-02,,-0,EUR,r,d,c")
    assert bank_csv.parse(content, "x").frames["bank_lines"]["amount"].to_list() == ["0.00", "0"]


def test_latin1_row_is_rejected_as_not_utf8_and_the_rest_survives():
    content = bank("A,2024-05-02,,1.00,EUR,r,ok,c") + "A,2024-05-02,,2.00,EUR,r,Café,c\n".encode(
        "latin-1"
    )
    result = bank_csv.parse(content, "x")
    assert result.frames["bank_lines"].height == 1
    [rejected] = result.rejected
    assert rejected.line_no == 3 and "not valid UTF-8 (byte 0xE9)" in rejected.reason
    assert "Caf\\xe9" in rejected.raw_record


def test_header_only_and_missing_column_and_empty_file():
    assert bank_csv.parse(BANK_HEADER.encode(), "x").rows_read == 0
    with pytest.raises(UnreadableFile, match="counterparty"):
        bank_csv.parse(BANK_HEADER.replace(",counterparty", "").encode(), "x")
    with pytest.raises(UnreadableFile, match="empty"):
        bank_csv.parse(b"\n\n", "x")


def test_rates_file_reads_exact_decimal_rates():
    content = (
        b"date,base_currency,quote_currency,rate\n2024-05-02,EUR,usd,1.0731\n2024-05-02,EUR,JPY,x\n"
    )
    result = rates_csv.parse(content, "rates.csv")
    [rate] = result.frames["rates"].to_dicts()
    assert rate == {
        "rate_date": date(2024, 5, 2),
        "base_currency": "EUR",
        "quote_currency": "USD",
        "rate": "1.0731",
        "source_line": 2,
    }
    assert "rate 'x' is not a decimal amount" in result.rejected[0].reason


def event(**fields) -> str:
    import json

    base = {
        "event_id": "e1",
        "type": "payment.captured",
        "occurred_at": "2024-05-01T12:00:00+02:00",
    }
    return json.dumps({**base, **fields})


def test_event_is_read_to_utc_with_canonical_payload_and_unknown_fields_kept():
    line = event(amount_minor=1250, currency="EUR", zzz={"b": 1, "a": "é"}, due_date="2024-06-01")
    result = events_jsonl.parse(b"\xef\xbb\xbf" + line.encode() + b"\r\n\r\n", "events.jsonl")
    [row] = result.frames["billing_events"].to_dicts()
    assert row["occurred_at"] == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert (row["amount_minor"], row["due_date"], row["source_line"]) == (1250, date(2024, 6, 1), 1)
    assert row["payload"] == (
        '{"amount_minor":1250,"currency":"EUR","due_date":"2024-06-01","event_id":"e1",'
        '"occurred_at":"2024-05-01T12:00:00+02:00","type":"payment.captured","zzz":{"a":"é","b":1}}'
    )


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (event(occurred_at="2024-05-01T12:00:00"), "not RFC 3339 with a UTC offset"),
        (event(amount_minor=12.5), "must be a JSON integer"),
        (event(amount_minor="1250"), "must be a JSON integer"),
        (event(amount_minor=True), "must be a JSON integer"),
        (event(amount_minor=2**63), "exceeds 64-bit"),
        (event(event_id=""), "event_id is missing"),
        (event(type=None), "type is missing"),
        (event(due_date="01/06/2024"), "bad date '01/06/2024' in due_date"),
        (event(invoice_id=42), "invoice_id must be a string"),
        ('{"event_id": "e1", "event_id": "e2"}', "duplicate key 'event_id'"),
        ("[1, 2]", "not a JSON object"),
        ("{not json", "invalid JSON"),
        ('{"amount_minor": NaN}', "NaN is not valid JSON"),
    ],
)
def test_bad_events_are_rejected_with_a_reason(line, reason):
    result = events_jsonl.parse(f"{event()}\n{line}\n".encode(), "e.jsonl")
    assert result.frames["billing_events"].height == 1
    [rejected] = result.rejected
    assert rejected.line_no == 2 and reason in rejected.reason


def test_unknown_event_types_are_not_the_parsers_business():
    result = events_jsonl.parse(event(type="payment.teleported").encode(), "e")
    assert result.frames["billing_events"]["type"].to_list() == ["payment.teleported"]


def test_duplicate_event_lines_are_both_kept_for_the_ledger_to_deduplicate():
    result = events_jsonl.parse(f"{event()}\n{event()}\n".encode(), "e")
    assert result.frames["billing_events"]["source_line"].to_list() == [1, 2]
