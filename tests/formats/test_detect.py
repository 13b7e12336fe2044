"""Dispatch by source, and bank formats told apart by content, not by name."""

from pathlib import Path

import pytest

from billing_pipeline.formats.base import UnreadableFile
from billing_pipeline.formats.detect import detect_bank_format, parse_file

REAL = Path(__file__).parents[1] / "fixtures" / "real"


@pytest.mark.parametrize(
    ("folder", "expected"), [("camt053", "camt053"), ("mt940", "mt940"), ("bai2", "bai2")]
)
def test_real_bank_samples_are_recognised_by_content(folder, expected):
    for path in sorted((REAL / folder).iterdir()):
        content = path.read_bytes()
        assert detect_bank_format(content) == expected, path.name
        result = parse_file("bank", "statement.dat", content)  # the name says nothing
        assert result.frames["bank_lines"]["bank_format"].unique().to_list() == [expected]


def test_plain_csv_falls_back_to_the_default_mapping():
    content = (
        b"account_id,booking_date,value_date,amount,currency,reference,description,counterparty\n"
    )
    assert detect_bank_format(content) == "csv"
    assert parse_file("bank", "x.xml", content).rows_read == 0


def test_unknown_source_is_unreadable():
    with pytest.raises(UnreadableFile, match="unknown source 'paypal'"):
        parse_file("paypal", "x.csv", b"a,b\n")
