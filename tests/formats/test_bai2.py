"""BAI2: real samples through the tolerant layer, values read by hand in the files."""

from datetime import date
from pathlib import Path

import pytest
from bai2.constants import TypeCodes

from billing_pipeline.formats import bai2
from billing_pipeline.formats.base import UnreadableFile

REAL = Path(__file__).parents[1] / "fixtures" / "real" / "bai2"


def parse(name: str):
    return bai2.parse((REAL / name).read_bytes(), name)


def lines(result) -> list[dict]:
    return result.frames["bank_lines"].to_dicts()


@pytest.mark.parametrize("path", sorted(REAL.iterdir()), ids=lambda p: p.name)
def test_every_16_record_of_every_real_sample_becomes_a_line(path):
    content = path.read_bytes()
    result = bai2.parse(content, path.name)
    assert result.rejected == []
    records = [line for line in content.decode().splitlines() if line.startswith("16,")]
    assert result.frames["bank_lines"].height == len(records)


def test_citi_191_with_seven_88_continuations_and_amount_in_pence():
    result = parse("citi_uk_gbp.bai2")
    [line] = lines(result)
    assert (line["amount"], line["currency"], line["tx_code"]) == ("0.01", "GBP", "191")
    assert (line["entry_ref"], line["end_to_end_ref"]) == ("1234567890", "RP12312312312312")
    assert line["remittance_info"].startswith("FR:FP SIP INCOMING ENDT:20150715")
    assert line["remittance_info"].endswith("BO:11111111 BO1:DOE JO")
    assert (line["booking_date"], line["source_line"]) == (date(2015, 7, 15), 4)
    balances = {b["balance_type"]: b["amount"] for b in result.frames["bank_balances"].to_dicts()}
    assert balances == {"opening": "100.00", "closing": "100.00"}


def test_svb_195_wire_text_runs_on_through_88s_keeping_its_commas():
    [line] = lines(parse("svb_eod_wire_crlf.bai2"))
    assert (line["amount"], line["currency"], line["tx_code"]) == ("83259.82", "USD", "195")
    assert "ORG ADDRESS:=1995 SE. 57TH ST. NY, NY 10022" in line["remittance_info"]
    assert line["remittance_info"].endswith("OBI:=INVOICE 123456")


def test_moov_cad_zero_padded_amounts_signed_by_type_code():
    rows = lines(parse("moov_sample1_cad.bai2"))
    assert (rows[0]["amount"], rows[0]["tx_code"], rows[0]["source_line"]) == ("-25.00", "409", 5)
    assert rows[3]["amount"] == "2035.00" and rows[3]["tx_code"] == "108"
    assert rows[0]["value_date"] == date(2006, 3, 16)
    assert {r["currency"] for r in rows} == {"CAD"}


def test_spec_example_summary_continued_over_two_88s_survives_the_library_bug():
    result = parse("moov_sample2_multigroup.bai2")
    balances = {b["account_id"]: b["amount"] for b in result.frames["bank_balances"].to_dicts()}
    assert balances["9876543210"] == "-5000.00"  # 03 ...,010,-500000 (USD by default)
    credit = next(r for r in lines(result) if r["tx_code"] == "218")
    assert credit["amount"] == "200000.00" and credit["value_date"] == date(2004, 6, 22)
    assert credit["remittance_info"] == "PROCEEDS OF LETTER OF CREDIT FROM THE ARAMCO OIL CO"
    assert (credit["entry_ref"], credit["end_to_end_ref"]) == ("SP4738", "YRC065321")


UNKNOWN_CREDIT = next(str(c) for c in range(100, 400) if str(c) not in TypeCodes)


def test_unknown_type_code_keeps_its_code_and_its_sign():
    content = (
        "01,S,R,240501,0000,9,,,2/\r\n02,R,S,1,240501,,EUR,/\r\n03,ACC1,,010,1000,,/\r\n"
        f"16,{UNKNOWN_CREDIT},1250,Z,BANKREF,12345678901234567890,hello/\r\n"
        "16,890,0,Z,,,memo only/\r\n49,0,3/\r\n98,0,1,0/\r\n99,0,1,0"
    ).encode()
    result = bai2.parse(content, "x.bai")
    [line] = lines(result)
    assert (line["tx_code"], line["amount"]) == (UNKNOWN_CREDIT, "12.50")
    assert line["end_to_end_ref"] == "12345678901234567890"
    [rejected] = result.rejected
    assert rejected.line_no == 5 and "neither a credit" in rejected.reason


def test_unreadable_account_block_costs_only_that_account():
    content = (
        b"01,S,R,240501,0000,9,,,2/\n02,R,S,1,240501,,USD,/\n"
        b"03,A1,,010,100,,/\n16,108,notanumber,Z,,,x/\n49,0,2/\n"
        b"03,A2,,010,100,,/\n16,108,500,Z,,,y/\n49,0,2/\n98,0,2,0/\n99,0,1,0/\n"
    )
    result = bai2.parse(content, "x")
    assert [r["account_id"] for r in lines(result)] == ["A2"]
    assert [r.line_no for r in result.rejected] == [3, 4]


@pytest.mark.parametrize("content", [b"", b"16,108,1/\n", b"<xml/>"])
def test_not_bai2_is_unreadable(content):
    with pytest.raises(UnreadableFile):
        bai2.parse(content, "x")
