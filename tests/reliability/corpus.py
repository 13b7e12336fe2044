"""The corpus of bad inputs: one row per case, with the outcome a payments engineer expects.

Each case delivers files into the inbox of one business date (`DAY`, or `EARLIER` for a file
delivered the day before) and names the file under test (`target`, the last file listed).
Outcomes:
  row        the target lands; a quarantine row (parse/validate) matches `pattern`
  file       the target is refused whole: registry status `unreadable`, detail matches
  ledger     the rows land, but the event store or the ledger quarantines one (stage `ledger`)
  duplicate  the target is registered as a duplicate of an earlier delivery, nothing staged
  ignored    the target is not registered at all (a partial upload)
  staged     odd but valid: every row staged (`rows` of them), nothing quarantined; `check` is
             an optional (sql, expected rows) read by hand from the file
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.reliability import templates as t

BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Case:
    id: str
    source: str
    files: dict[str, bytes]  # name -> bytes, delivered for DAY; the last one is the target
    expect: str
    pattern: str = ""
    rows: int | None = None
    check: tuple[str, list[tuple]] | None = None
    earlier: dict[str, bytes] = field(default_factory=dict)  # delivered for the day before
    xfail: str = ""  # a known bug, not fixed here: the reason and the fix (docs/reliability.md)

    @property
    def target(self) -> str:
        return list(self.files)[-1]


def _b(text: str) -> bytes:
    return text.encode()


def _crlf_bom(text: str) -> bytes:
    return BOM + text.replace("\n", "\r\n").encode()


def _case(id, source, name, content, expect, pattern="", **kw) -> Case:
    data = content if isinstance(content, bytes) else _b(content)
    return Case(id, source, {name: data}, expect, pattern, **kw)


_BIG = "9" * 20  # 20 digits: beyond a signed 64-bit count of minor units
_LONG_NAME = "statement_" + "x" * 230 + ".csv"

CASES: list[Case] = [
    # --- empty, header-only, truncated ---------------------------------------------------
    _case("stripe-empty", "stripe", "empty.csv", b"", "file", r"empty|no header"),
    _case(
        "stripe-header-only", "stripe", "h.csv", t.STRIPE_BALANCE_HEADER + "\n", "staged", rows=0
    ),
    _case(
        "adyen-empty",
        "adyen",
        "settlement_detail_report_batch_1.csv",
        b"",
        "file",
        r"empty|no header",
    ),
    _case("bank-csv-header-only", "bank", "h.csv", t.BANK_CSV_HEADER + "\n", "staged", rows=0),
    _case("events-empty", "events", "e.jsonl", b"", "file", r"empty"),
    _case("rates-empty", "rates", "r.csv", b"", "file", r"empty|no header"),
    _case(
        "camt-empty-document", "bank", "c.xml", b"<?xml version='1.0'?>", "file", r"XML|xml|empty"
    ),
    _case("camt-truncated", "bank", "c.xml", t.camt()[:400], "file", r"XML|xml|truncated"),
    _case("camt-not-xml-garbage", "bank", "c.xml", "<Document><<<>>", "file", r"XML|xml"),
    _case(
        "camt-wrong-namespace",
        "bank",
        "c.xml",
        t.camt(ns="urn:example:not-camt"),
        "file",
        r"camt|namespace",
    ),
    _case(
        "camt-pain001-instead",
        "bank",
        "c.xml",
        t.camt(ns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"),
        "file",
        r"camt|namespace|pain",
    ),
    _case("mt940-truncated", "bank", "m.sta", t.MT940[:60], "row", r":60F: balance"),
    _case(
        "mt940-bad-amount",
        "bank",
        "m.sta",
        t.MT940.replace("D610,42", "D6x0,42"),
        "row",
        r"D6x0,42.*not readable",
    ),
    _case("bai2-truncated", "bank", "b.bai", t.BAI2[:80], "row", r"no 99 file trailer"),
    _case(
        "bai2-bad-type-code",
        "bank",
        "b.bai",
        t.BAI2.replace("16,698,", "16,999,"),
        "row",
        r"type code|999",
    ),
    _case(
        "jsonl-truncated-last-line",
        "events",
        "e.jsonl",
        t.events(t.event("evt_1"), t.event("evt_2"))[:-40],
        "row",
        r"JSON|json",
    ),
    _case("jsonl-not-json", "events", "e.jsonl", "hello world\n", "row", r"JSON|json"),
    _case("jsonl-array-not-object", "events", "e.jsonl", "[1, 2, 3]\n", "row", r"object"),
    # --- encodings and BOMs --------------------------------------------------------------
    _case(
        "stripe-bom-crlf",
        "stripe",
        "s.csv",
        _crlf_bom(t.stripe_balance()),
        "staged",
        rows=1,
        check=("select gross_minor from raw.stripe_settlement_lines", [(2070,)]),
    ),
    _case(
        "bank-csv-bom-crlf",
        "bank",
        "s.csv",
        _crlf_bom(t.bank_csv()),
        "staged",
        rows=1,
        check=("select amount_minor from raw.bank_lines", [(1250,)]),
    ),
    _case("events-bom-crlf", "events", "e.jsonl", _crlf_bom(t.events()), "staged", rows=1),
    _case("rates-bom-crlf", "rates", "r.csv", _crlf_bom(t.rates()), "staged", rows=1),
    _case(
        "mt940-crlf",
        "bank",
        "m.sta",
        t.MT940.replace("\n", "\r\n"),
        "staged",
        rows=3,  # one entry, opening and closing balance
        check=("select amount_minor from raw.bank_lines", [(-61042,)]),
    ),
    _case(
        "bank-csv-utf16",
        "bank",
        "s.csv",
        t.bank_csv().encode("utf-16"),
        "file",
        r"UTF-16|utf-16|UTF-8|encoding",
    ),
    _case(
        "stripe-utf16",
        "stripe",
        "s.csv",
        t.stripe_balance().encode("utf-16"),
        "file",
        r"UTF-16|utf-16|UTF-8|encoding",
    ),
    _case(
        "events-utf16", "events", "e.jsonl", t.events().encode("utf-16"), "row", r"not valid UTF-8"
    ),
    _case(
        "bank-csv-latin1-description",
        "bank",
        "s.csv",
        t.bank_csv(t.bank_csv_row(description="Café Müller")).encode("latin-1"),
        "row",
        r"UTF-8",
    ),
    _case(
        "camt-latin1-declared",
        "bank",
        "c.xml",
        t.camt()
        .replace("UTF-8", "ISO-8859-1")
        .replace("OFFICE RENT", "LOYER Été")
        .encode("latin-1"),
        "staged",
        rows=1,
    ),
    # --- schema drift ----------------------------------------------------------------------
    _case(
        "stripe-missing-net-column",
        "stripe",
        "s.csv",
        t.stripe_balance().replace(",net,", ",nett,"),
        "file",
        r"net",
    ),
    _case(
        "adyen-missing-batch-column",
        "adyen",
        "settlement_detail_report_batch_1.csv",
        t.adyen().replace("Batch Number", "Batch"),
        "file",
        r"Batch Number",
    ),
    _case(
        "bank-csv-renamed-amount",
        "bank",
        "s.csv",
        t.bank_csv().replace(",amount,", ",value,"),
        "file",
        r"amount",
    ),
    _case(
        "rates-missing-rate",
        "rates",
        "r.csv",
        "date,base_currency,quote_currency\n2026-10-05,EUR,KWD\n",
        "file",
        r"rate",
    ),
    _case(
        "bank-csv-reordered-and-extra-columns",
        "bank",
        "s.csv",
        "extra,currency,amount,account_id,booking_date,value_date,reference,description,counterparty\n"
        f"x,EUR,12.50,{t.IBAN},2026-10-05,2026-10-05,R1,rent,ACME\n",
        "staged",
        rows=1,
        check=("select currency, amount_minor from raw.bank_lines", [("EUR", 1250)]),
    ),
    _case(
        "stripe-row-with-extra-field",
        "stripe",
        "s.csv",
        t.stripe_balance(t.stripe_row() + ",surplus"),
        "row",
        r"field",
    ),
    _case(
        "events-unknown-type",
        "events",
        "e.jsonl",
        t.events(t.event(type="payment.teleported")),
        "ledger",
        r"unknown payment event type 'payment.teleported'",
    ),
    _case(
        "events-missing-event-id",
        "events",
        "e.jsonl",
        '{"type": "payment.created"}\n',
        "row",
        r"event_id",
    ),
    _case(
        "events-extra-fields-ignored",
        "events",
        "e.jsonl",
        t.events(t.event(colour="blue")),
        "staged",
        rows=1,
    ),
    # --- references, amounts, currencies -------------------------------------------------
    _case(
        "bank-csv-20-digit-reference-kept-exactly",
        "bank",
        "s.csv",
        t.bank_csv(t.bank_csv_row(ref="12345678901234567890")),
        "staged",
        rows=1,
        check=("select entry_ref from raw.bank_lines", [("12345678901234567890",)]),
    ),
    _case(
        "adyen-20-digit-psp-reference",
        "adyen",
        "settlement_detail_report_batch_1.csv",
        t.adyen(t.adyen_row(psp="98765432109876543210")),
        "staged",
        rows=1,
        check=("select processor_ref from raw.adyen_settlement_lines", [("98765432109876543210",)]),
    ),
    _case(
        "bank-csv-amount-beyond-int64",
        "bank",
        "s.csv",
        t.bank_csv(t.bank_csv_row(amount=_BIG + ".00")),
        "row",
        r"range|64|too large|overflow",
    ),
    _case(
        "stripe-amount-beyond-int64",
        "stripe",
        "s.csv",
        t.stripe_balance(t.stripe_row(gross=_BIG, net=_BIG)),
        "row",
        r"range|64|too large|overflow",
    ),
    _case(
        "events-amount-beyond-int64",
        "events",
        "e.jsonl",
        t.events(t.event(amount_minor=10**20)),
        "row",
        r"range|64|too large|overflow|amount",
    ),
    _case(
        "bai2-amount-beyond-int64",
        "bank",
        "b.bai",
        t.BAI2.replace("16,698,869,", f"16,698,{_BIG},"),
        "row",
        r"range|64|too large|overflow",
    ),
    _case(
        "camt-amount-beyond-int64",
        "bank",
        "c.xml",
        t.camt(amount=_BIG + ".00"),
        "row",
        r"range|64|too large|overflow",
    ),
    _case(
        "bank-csv-retired-currency-dem",
        "bank",
        "s.csv",
        t.bank_csv(t.bank_csv_row(currency="DEM")),
        "row",
        r"DEM",
    ),
    _case(
        "stripe-retired-currency-frf",
        "stripe",
        "s.csv",
        t.stripe_balance(t.stripe_row(currency="frf")),
        "row",
        r"FRF|frf",
    ),
    _case(
        "events-unknown-currency",
        "events",
        "e.jsonl",
        t.events(t.event(currency="XYZ")),
        "row",
        r"XYZ",
    ),
    _case(
        "rates-retired-currency",
        "rates",
        "r.csv",
        t.rates("2026-10-05,EUR,DEM,1.95583"),
        "row",
        r"DEM",
    ),
    _case("camt-retired-currency", "bank", "c.xml", t.camt(currency="FRF"), "row", r"FRF"),
    _case(
        "bank-csv-too-many-decimals",
        "bank",
        "s.csv",
        t.bank_csv(t.bank_csv_row(amount="1.005")),
        "row",
        r"decimal",
    ),
    _case(
        "jpy-with-decimals",
        "stripe",
        "s.csv",
        t.stripe_balance(t.stripe_row(currency="jpy", gross="100.5", fee="0", net="100.5")),
        "row",
        r"decimal|JPY",
    ),
    _case(
        "adyen-too-many-decimals",
        "adyen",
        "settlement_detail_report_batch_1.csv",
        t.adyen(t.adyen_row(net="63.931")),
        "row",
        r"decimal",
    ),
    _case(
        "rates-negative-rate",
        "rates",
        "r.csv",
        t.rates("2026-10-05,EUR,KWD,-0.3"),
        "row",
        r"rate|positive|negative",
    ),
    _case(
        "events-float-amount",
        "events",
        "e.jsonl",
        t.events(t.event(amount_minor=10.5)),
        "row",
        r"amount_minor|integer",
    ),
    _case(
        "adyen-unknown-timezone",
        "adyen",
        "settlement_detail_report_batch_1.csv",
        t.adyen(t.adyen_row(zone="XYZT")),
        "row",
        r"XYZT|zone",
    ),
    # --- duplicates, conflicts, lifecycles -----------------------------------------------
    _case(
        "events-duplicate-id-same-payload-in-one-file",
        "events",
        "e.jsonl",
        t.events(t.event("evt_1"), t.event("evt_1")),
        "staged",
        rows=2,
        check=("select count(*) from store.events", [(1,)]),
    ),
    _case(
        "events-same-id-different-payload",
        "events",
        "e.jsonl",
        t.events(t.event("evt_1"), t.event("evt_1", amount_minor=999)),
        "ledger",
        r"conflicting payload",
    ),
    _case(
        "bank-same-ref-different-amount-two-files",
        "bank",
        "b.csv",
        _b(t.bank_csv(t.bank_csv_row(ref="R9", amount="-1.00"))),
        "ledger",
        r".",
    ),
    _case(
        "events-illegal-transition-refund-before-capture",
        "events",
        "e.jsonl",
        t.events(
            t.event("evt_1"),
            t.event("evt_2", type="payment.refunded", occurred_at="2026-10-05T11:00:00+00:00"),
        ),
        "ledger",
        r"refunded|transition|not allowed",
    ),
    _case(
        "events-capture-after-failure",
        "events",
        "e.jsonl",
        t.events(
            t.event("evt_1"),
            t.event("evt_2", type="payment.failed", occurred_at="2026-10-05T10:01:00+00:00"),
            t.event("evt_3", type="payment.captured", occurred_at="2026-10-05T10:02:00+00:00"),
        ),
        "ledger",
        r"captured|transition|not allowed",
    ),
    _case(
        "events-in-the-future",
        "events",
        "e.jsonl",
        t.events(t.event(occurred_at="2099-01-01T00:00:00+00:00")),
        "ledger",
        r"after its delivery date",
    ),
    _case(
        "events-before-partitions-start",
        "events",
        "e.jsonl",
        t.events(t.event(occurred_at="2019-06-01T00:00:00+00:00")),
        "ledger",
        r"before the first business date",
    ),
    _case(
        "events-occurred-at-without-offset",
        "events",
        "e.jsonl",
        t.events(t.event(occurred_at="2026-10-05T10:00:00")),
        "row",
        r"offset|occurred_at",
    ),
    # --- files delivered twice, renamed, partial uploads, odd names -------------------------
    _case(
        "stripe-same-bytes-renamed-same-day",
        "stripe",
        "a.csv",
        t.stripe_balance(),
        "staged",
        rows=1,
    ),
    _case(
        "bank-same-bytes-delivered-again-next-day",
        "bank",
        "statement.csv",
        t.bank_csv(),
        "duplicate",
        r".",
        earlier={"statement.csv": _b(t.bank_csv())},
    ),
    _case(
        "bank-same-bytes-renamed-next-day",
        "bank",
        "statement-resent.csv",
        t.bank_csv(),
        "duplicate",
        r".",
        earlier={"statement.csv": _b(t.bank_csv())},
    ),
    _case("dotfile-partial-upload", "bank", ".statement.csv.part", t.bank_csv(), "ignored"),
    _case(
        "name-with-spaces-and-unicode",
        "bank",
        "relevé de compte — 10月.csv",
        t.bank_csv(),
        "staged",
        rows=1,
    ),
    _case(
        "name-with-quotes-and-sql",
        "bank",
        "x'); drop table raw.bank_lines; --\".csv",
        t.bank_csv(),
        "staged",
        rows=1,
        check=("select count(*) from raw.bank_lines", [(1,)]),
    ),
    _case("name-very-long", "bank", _LONG_NAME, t.bank_csv(), "staged", rows=1),
    _case("name-dotdot-prefix", "events", "..e.jsonl", t.events(), "ignored"),
    _case("name-with-newline", "events", "a\nb.jsonl", t.events(), "staged", rows=1),
    # --- formula text in descriptions is data, kept verbatim --------------------------------
    _case(
        "bank-csv-formula-description",
        "bank",
        "s.csv",
        t.bank_csv(t.bank_csv_row(description="=CMD|' /C calc'!A0")),
        "staged",
        rows=1,
        check=("select remittance_info from raw.bank_lines", [("=CMD|' /C calc'!A0",)]),
    ),
    _case(
        "stripe-formula-description",
        "stripe",
        "s.csv",
        t.stripe_balance(t.stripe_row(description="+SUM(A1:A9)")),
        "staged",
        rows=1,
        check=("select description from raw.stripe_settlement_lines", [("+SUM(A1:A9)",)]),
    ),
]

# Two-file cases: the first file is fine, the second is the one under test.
CASES += [
    Case(
        "stripe-same-bytes-twice-same-day",
        "stripe",
        {"a.csv": _b(t.stripe_balance()), "b-copy.csv": _b(t.stripe_balance())},
        "duplicate",
        r"same bytes",
    ),
    Case(
        "bank-same-ref-different-amount-across-files",
        "bank",
        {
            "a.csv": _b(t.bank_csv(t.bank_csv_row(ref="R9"))),
            "b.csv": _b(t.bank_csv(t.bank_csv_row(ref="R9", amount="13.50"))),
        },
        "ledger",
        r"conflicting payload",
    ),
    Case(
        "events-same-id-different-payload-across-days",
        "events",
        {"e2.jsonl": _b(t.events(t.event("evt_1", amount_minor=5)))},
        "ledger",
        r"conflicting payload",
        earlier={"e1.jsonl": _b(t.events(t.event("evt_1")))},
    ),
]
CASES = [c for c in CASES if c.id != "bank-same-ref-different-amount-two-files"]
