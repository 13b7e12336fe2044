"""camt.053: real samples, checked against values read by hand in the files."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from billing_pipeline.formats import camt053
from billing_pipeline.formats.base import UnreadableFile

REAL = Path(__file__).parents[1] / "fixtures" / "real" / "camt053"


def parse(name: str):
    return camt053.parse((REAL / name).read_bytes(), name)


def row(result, frame: str, source_line: int) -> dict:
    [found] = [r for r in result.frames[frame].to_dicts() if r["source_line"] == source_line]
    return found


@pytest.mark.parametrize("path", sorted(REAL.glob("*.xml")), ids=lambda p: p.name)
def test_every_real_sample_parses_without_rejections(path):
    result = camt053.parse(path.read_bytes(), path.name)
    assert result.rejected == []
    assert result.frames["bank_lines"].height > 0
    assert result.frames["bank_lines"]["bank_format"].unique().to_list() == ["camt053"]


def test_ubs_v08_entry_booked_in_eur_keeps_its_own_currency_and_refs():
    result = parse("ubs_ch_v08.xml")
    eur = row(result, "bank_lines", 259)  # <Ntry> at line 259, <Amt Ccy="EUR">20.97 DBIT
    assert (eur["currency"], eur["amount"]) == ("EUR", "-20.97")
    assert eur["entry_ref"] == "0123171DN6095310"  # TxDtls/Refs/AcctSvcrRef
    assert eur["end_to_end_ref"] == "1208481"
    assert eur["counterparty"] == "DHL Express (Schweiz) AG"  # Cdtr/Pty/Nm for a debit
    assert eur["tx_code"] == "PMNT/ICDT/AUTT"
    assert eur["booking_date"] == date(2023, 6, 20)
    balances = {b["balance_type"]: b["amount"] for b in result.frames["bank_balances"].to_dicts()}
    assert balances == {
        "opening": "82721.95",
        "closing": "84515.25",
        "closing_available": "83415.25",
    }


def test_postfinance_collective_bookings_split_into_32_txdtls_that_reconcile():
    result = parse("postfinance_ch_v04.xml")
    lines = result.frames["bank_lines"]
    assert lines.height == 32
    assert lines["currency"].unique().to_list() == ["CHF"]
    balances = {b["balance_type"]: b for b in result.frames["bank_balances"].to_dicts()}
    assert balances["opening"]["amount"] == "322152.16"
    assert balances["opening"]["as_of_date"] == date(2016, 4, 29)
    total = sum(Decimal(a) for a in lines["amount"])
    assert (
        Decimal("322152.16") + total
        == Decimal(balances["closing"]["amount"])
        == Decimal("322689.77")
    )


@pytest.mark.parametrize("name", ["vrbank_rottal_inn_de_v02.xml", "genkgo_v02_multi_statement.xml"])
def test_balances_reconcile_per_statement_where_the_source_says_they_do(name):
    result = parse(name)
    for statement in result.frames["bank_balances"]["statement_id"].unique():
        balances = {
            b["balance_type"]: Decimal(b["amount"])
            for b in result.frames["bank_balances"].to_dicts()
            if b["statement_id"] == statement
        }
        moved = sum(
            Decimal(line["amount"])
            for line in result.frames["bank_lines"].to_dicts()
            if line["statement_id"] == statement
        )
        assert balances["opening"] + moved == balances["closing"]


def test_vrbank_prcd_stands_in_for_the_missing_opening_balance():
    balances = parse("vrbank_rottal_inn_de_v02.xml").frames["bank_balances"].to_dicts()
    assert [(b["balance_type"], b["amount"]) for b in balances] == [
        ("opening", "33.06"),
        ("closing", "23.06"),
    ]


def test_genkgo_two_statements_in_one_message_keep_their_own_ids():
    lines = parse("genkgo_v02_multi_statement.xml").frames["bank_lines"].to_dicts()
    assert [(line["statement_id"], line["amount"]) for line in lines] == [
        ("253EURNL26VAYB8060476890", "8.85"),
        ("254EURNL26VAYB8060476890", "-7.00"),
    ]


def test_genkgo_v03_othr_account_id_and_debit_balances_in_other_currencies():
    result = parse("genkgo_v03.xml")
    balances = result.frames["bank_balances"].to_dicts()
    assert {b["account_id"] for b in balances} == {"NL26VAYB8060476890"}
    closing = next(b for b in balances if b["balance_type"] == "closing")
    assert (closing["currency"], closing["amount"]) == ("SEK", "-27.00")
    assert any("OPAV" in note for note in result.notes)  # unused balance type is noted


def test_belgian_export_amounts_without_fixed_decimals_and_notprovided_placeholders():
    lines = parse("be_anonymized_v02.xml").frames["bank_lines"].to_dicts()
    assert [line["amount"] for line in lines] == ["-789903.41", "-0.99", "789904.4"]
    assert lines[0]["end_to_end_ref"] == "E2EXRUHYXKX58020423"
    assert all(line["remittance_info"] is None for line in lines)  # only NOTPROVIDED there


def test_ing_batch_entry_with_incomplete_details_stays_one_line_and_prcd_is_noted():
    result = parse("ing_nl_v02_batch.xml")
    lines = result.frames["bank_lines"].to_dicts()
    assert lines[0]["amount"] == "-4753.74"
    types = result.frames["bank_balances"]["balance_type"].to_list()
    assert types.count("forward_available") == 2 and types.count("opening") == 1
    assert any("PRCD" in note for note in result.notes)


STATEMENT = """<?xml version="1.0" encoding="UTF-8"?>
<Document{ns}><BkToCstmrStmt><Stmt><Id>S1</Id>
<Acct><Id><IBAN>DE02100100100006820101</IBAN></Id></Acct>
<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
<BookgDt><Dt>2024-05-02</Dt></BookgDt><AcctSvcrRef>12345678901234567890</AcctSvcrRef></Ntry>
</Stmt></BkToCstmrStmt></Document>"""
V13 = ' xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.13"'


def test_missing_namespace_and_newest_version_are_read_and_long_refs_keep_every_digit():
    for namespace in ("", V13):
        result = camt053.parse(STATEMENT.format(ns=namespace, amount="10").encode(), "x.xml")
        [line] = result.frames["bank_lines"].to_dicts()
        assert line["entry_ref"] == "12345678901234567890"
        assert line["amount"] == "10"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (STATEMENT.format(ns=V13, amount="1").encode()[:200], "truncated"),
        (
            STATEMENT.format(
                ns=' xmlns="urn:iso:std:iso:20022:tech:xsd:camt.052.001.08"', amount="1"
            ).encode(),
            "namespace",
        ),
        (b"<html><body/></html>", "root element"),
    ],
)
def test_broken_documents_are_unreadable_with_a_reason(content, reason):
    with pytest.raises(UnreadableFile, match=reason):
        camt053.parse(content, "bad.xml")


def test_bad_amount_rejects_only_its_entry_with_the_line():
    result = camt053.parse(STATEMENT.format(ns=V13, amount="1,5").encode(), "x.xml")
    [rejected] = result.rejected
    assert rejected.line_no == 4 and "not a decimal amount" in rejected.reason
    assert "<AcctSvcrRef>12345678901234567890" in rejected.raw_record


def test_external_entities_are_not_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    content = (
        STATEMENT.format(ns=V13, amount="1")
        .replace(
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>',
        )
        .replace("<Id>S1</Id>", "<Id>&x;</Id>")
    )
    try:
        result = camt053.parse(content.encode(), "xxe.xml")
    except UnreadableFile:
        return
    assert "TOP-SECRET" not in str(result.frames["bank_lines"].to_dicts())
