"""MT940: real samples through the tolerant layer, values read by hand in the files."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from billing_pipeline.formats import mt940
from billing_pipeline.formats.base import UnreadableFile

REAL = Path(__file__).parents[1] / "fixtures" / "real" / "mt940"


def parse(name: str):
    return mt940.parse((REAL / name).read_bytes(), name)


def lines(result) -> list[dict]:
    return result.frames["bank_lines"].to_dicts()


@pytest.mark.parametrize("path", sorted(REAL.iterdir()), ids=lambda p: p.name)
def test_every_real_sample_parses_every_61_without_rejections(path):
    content = path.read_bytes()
    result = mt940.parse(content, path.name)
    assert result.rejected == []
    text = content.decode("utf-8", errors="replace")
    statement_lines = sum(1 for line in text.splitlines() if line.startswith(":61:"))
    assert result.frames["bank_lines"].height == statement_lines
    for line in lines(result):  # every :61: row points at a :61: line of the file
        assert text.splitlines()[line["source_line"] - 1].startswith(":61:")


def test_asn_31_fin_wrapped_statements_keep_their_entries_and_reconcile():
    result = parse("asn_bank_nl.txt")
    balances = result.frames["bank_balances"].to_dicts()
    assert len({b["statement_id"] for b in balances}) == 31
    first = lines(result)[0]
    # :61:2001010101D65,00NOVBNL47INGB9999999999 / hr gjlm paulissen (over-long customer ref)
    assert (first["amount"], first["currency"], first["booking_date"]) == (
        "-65.00",
        "EUR",
        date(2020, 1, 1),
    )
    assert first["entry_ref"] == "NL47INGB9999999999"
    assert "Betaling sieraden" in first["remittance_info"]
    for statement in {b["statement_id"] for b in balances}:
        by_type = {
            b["balance_type"]: Decimal(b["amount"])
            for b in balances
            if b["statement_id"] == statement
        }
        moved = sum(Decimal(x["amount"]) for x in lines(result) if x["statement_id"] == statement)
        assert by_type["opening"] + moved == by_type["closing"], statement


def test_raiffeisen_cp852_is_decoded_and_noted_with_three_forward_balances():
    result = parse("raiffeisen_hu_cp852.sta")
    assert result.notes == ["not UTF-8: decoded as cp852"]
    first = lines(result)[0]
    assert first["remittance_info"].startswith("Csoportos átutalás jóváírása")
    assert (first["amount"], first["currency"], first["tx_code"]) == ("2066637.00", "HUF", "N527")
    forward = [
        b
        for b in result.frames["bank_balances"].to_dicts()
        if b["balance_type"] == "forward_available"
    ]
    assert [b["as_of_date"] for b in forward] == [
        date(2018, 4, 18),
        date(2018, 4, 19),
        date(2018, 4, 20),
    ]


def test_citibank_four_space_entry_date_and_zero_amount_info_lines():
    result = parse("citibank_usd.txt")
    rows = lines(result)
    assert (rows[0]["amount"], rows[0]["booking_date"], rows[0]["tx_code"]) == (
        "-212.39",
        date(2024, 3, 12),
        "NMSC",
    )
    assert [r["amount"] for r in rows].count("0.00") == 2
    assert "BAI CD 025" in rows[2]["remittance_info"]
    balances = {b["balance_type"]: b["amount"] for b in result.frames["bank_balances"].to_dicts()}
    assert balances == {
        "opening": "17376.67",
        "closing": "16233.92",
        "closing_available": "16233.92",
    }


def test_mbank_soh_etx_control_bytes_are_stripped():
    rows = lines(parse("mbank_pl.sta"))
    assert {r["account_id"] for r in rows} == {"PL29114010810000267002001002"}
    assert rows[0]["entry_ref"] == "MB170119012058"
    assert rows[0]["amount"] == "0.01" and rows[0]["currency"] == "PLN"


def test_statement_level_86_after_closing_balance_is_not_glued_to_the_last_entry():
    assert (
        "D000004C000002D25,24C28,71" not in lines(parse("ing_nl_crlf.txt"))[-1]["remittance_info"]
    )
    hsbc = lines(parse("hsbc_hk.txt"))
    assert hsbc[0]["entry_ref"] == "6128522200250001"  # after // despite padded customer ref
    assert "/OSDR/" not in hsbc[0]["remittance_info"]


def test_rabobank_narrative_wrapped_mid_word_is_glued_back():
    row = lines(parse("rabobank_nl_structured.txt"))[0]
    assert row["counterparty"] == "Nespresso Nederland B.V."
    assert row["end_to_end_ref"] == "02-04-2013 22:56 1120000153447185"
    assert row["amount"] == "-127.50"


def test_abn_amro_amounts_without_decimals_and_interim_balances():
    result = parse("abn_amro_nl.txt")
    assert lines(result)[0]["amount"] == "-9"
    types = [b["balance_type"] for b in result.frames["bank_balances"].to_dicts()]
    assert types == ["opening", "closing", "interim_opening", "interim_closing"]


QUIRKY = b"""{1:F01BANKXXXX0000000000}{2:O940BANKXXXXN}{3:}{4:
:20:REF1
:25:NL00BANK0123456789
:28C:
:60F:C240501EUR100,00
:61:2405010501D10,00NTRFNONREF//BANK12345678901234567890
free text after the statement line
:86:first entry
:61:this is not a statement line
:86:lost narrative
:61:240501C5,50NTRFNONREF
:62F:C240501EUR95,50
-}{5:}
"""


def test_empty_28c_and_a_broken_61_cost_only_that_entry():
    result = mt940.parse(QUIRKY, "q.sta")
    rows = lines(result)
    assert [r["amount"] for r in rows] == ["-10.00", "5.50"]
    assert rows[0]["statement_id"] == "REF1"
    assert rows[0]["remittance_info"] == "free text after the statement line first entry"
    [rejected] = result.rejected
    assert rejected.line_no == 9  # the bad :61:, counting the FIN header line
    assert "not readable by mt-940" in rejected.reason
    assert "lost narrative" in rejected.raw_record


def test_reversal_of_credit_is_a_debit():
    content = (
        b":20:R\n:25:A\n:60F:C240501EUR0,\n:61:240501RC7,00NTRFNONREF\n:61:240501RD3,00NTRFNONREF\n"
    )
    assert [r["amount"] for r in lines(mt940.parse(content, "r"))] == ["-7.00", "3.00"]


@pytest.mark.parametrize("content", [b"", b"   \n", b"hello,world\n1,2\n"])
def test_not_mt940_is_unreadable(content):
    with pytest.raises(UnreadableFile):
        mt940.parse(content, "x")
