"""The contract every parser fulfils.

A parser reads the bytes of one landed file and returns a `ParseResult`: canonical polars
frames (columns below, all text except where noted) plus the records it could not read.
Every record the parser recognises ends either as a row of a frame or as a `Rejected`:
`rows_read == sum(len(frame)) + len(rejected)` is the "nothing lost" invariant that ingestion
checks for every file.

Amounts stay *decimal text in major units* (`"-12.50"`, `"7.5"`, `"1000"`; `.` as separator,
optional sign, no thousands marks) beside an upper-case ISO 4217 code. Ingestion converts them
to integer minor units in one place (`domain.money.minor_units_expr`), so that a value with too
many decimals is quarantined the same way whatever format it came from. Instants are
`pl.Datetime("us", "UTC")`; business dates are `pl.Date`. References are always text.
`source_line` (Int64, 1-based) is the line of the record in the file (for XML the line of the
element, for CSV the physical line including the header as line 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

UTC_INSTANT = pl.Datetime("us", "UTC")

# frame name -> ordered column -> dtype. Parsers must return exactly these columns.
SETTLEMENT_LINES: dict[str, pl.DataType] = {
    "processor": pl.Utf8,  # stripe | adyen
    # unique id of the line at the processor (balance txn id / modification ref)
    "line_ref": pl.Utf8,
    "line_type": pl.Utf8,  # charge | refund | chargeback | chargeback_reversal | fee | adjustment
    # charge/payment reference the billing events carry (nullable for fees)
    "processor_ref": pl.Utf8,
    "merchant_ref": pl.Utf8,  # our payment id when the processor echoes it (nullable)
    "payout_ref": pl.Utf8,  # the payout/batch this line is paid out in (nullable)
    "occurred_at": UTC_INSTANT,
    "available_on": pl.Date,  # nullable
    "currency": pl.Utf8,  # settlement (net) currency, upper case
    "gross_amount": pl.Utf8,  # in settlement currency, signed: money to the merchant is positive
    "fee_amount": pl.Utf8,  # total fees in settlement currency, positive = charged to merchant
    "net_amount": pl.Utf8,  # gross - fee, signed
    "original_currency": pl.Utf8,  # charge (gross) currency when it differs; else same as currency
    "original_amount": pl.Utf8,  # signed amount in original_currency
    "exchange_rate": pl.Utf8,  # decimal text original->settlement, nullable
    "description": pl.Utf8,  # nullable
    "source_line": pl.Int64,
}
PAYOUTS: dict[str, pl.DataType] = {
    "processor": pl.Utf8,
    "payout_ref": pl.Utf8,  # po_... (Stripe) / "<merchant account>:<batch number>" (Adyen)
    "bank_reference": pl.Utf8,  # text the bank will show (Stripe trace_id, Adyen "TX...XT batch N")
    "created_at": UTC_INSTANT,
    "arrival_date": pl.Date,  # expected arrival at the bank, nullable
    "currency": pl.Utf8,
    "amount": pl.Utf8,  # positive = paid out to the merchant's bank
    "source_line": pl.Int64,
}
BANK_LINES: dict[str, pl.DataType] = {
    "bank_format": pl.Utf8,  # camt053 | mt940 | bai2 | csv
    "account_id": pl.Utf8,  # IBAN or bank account number as the statement gives it
    "statement_id": pl.Utf8,
    # bank's reference for the entry (AcctSvcrRef / :61: bank ref / BAI2 bank ref), nullable
    "entry_ref": pl.Utf8,
    "end_to_end_ref": pl.Utf8,  # nullable
    "booking_date": pl.Date,
    "value_date": pl.Date,  # nullable
    "currency": pl.Utf8,
    "amount": pl.Utf8,  # signed: credit positive, debit negative
    # bank transaction code (BAI2 type code, :61: type, camt domain/family), nullable
    "tx_code": pl.Utf8,
    "counterparty": pl.Utf8,  # nullable
    "remittance_info": pl.Utf8,  # all narrative text of the entry joined with spaces, nullable
    "source_line": pl.Int64,
}
BANK_BALANCES: dict[str, pl.DataType] = {
    "bank_format": pl.Utf8,
    "account_id": pl.Utf8,
    "statement_id": pl.Utf8,
    # opening | closing | closing_available | interim_opening | interim_closing | forward_available
    "balance_type": pl.Utf8,
    "as_of_date": pl.Date,
    "currency": pl.Utf8,
    "amount": pl.Utf8,  # signed
    "source_line": pl.Int64,
}
BILLING_EVENTS: dict[str, pl.DataType] = {
    "event_id": pl.Utf8,
    "type": pl.Utf8,
    "occurred_at": UTC_INSTANT,
    "payment_id": pl.Utf8,
    "invoice_id": pl.Utf8,
    "customer_id": pl.Utf8,
    "amount_minor": pl.Int64,  # the log already speaks minor units
    "currency": pl.Utf8,
    "processor": pl.Utf8,
    "processor_ref": pl.Utf8,
    "due_date": pl.Date,
    # the event as canonical JSON (sorted keys): the basis of conflict detection
    "payload": pl.Utf8,
    "source_line": pl.Int64,
}
RATES: dict[str, pl.DataType] = {
    "rate_date": pl.Date,
    "base_currency": pl.Utf8,
    "quote_currency": pl.Utf8,
    "rate": pl.Utf8,  # decimal text: 1 base = rate quote
    "source_line": pl.Int64,
}
FRAMES: dict[str, dict[str, pl.DataType]] = {
    "settlement_lines": SETTLEMENT_LINES,
    "payouts": PAYOUTS,
    "bank_lines": BANK_LINES,
    "bank_balances": BANK_BALANCES,
    "billing_events": BILLING_EVENTS,
    "rates": RATES,
}


class UnreadableFile(ValueError):
    """The file as a whole cannot be parsed (truncated XML, wrong format): quarantine it whole."""


@dataclass(frozen=True, slots=True)
class Rejected:
    line_no: int | None  # 1-based line in the file, None when the file has no lines (binary)
    reason: str  # says what failed, e.g. "bad date '2024-13-01' in created_utc"
    raw_record: str  # the record as it appeared in the file


@dataclass
class ParseResult:
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)
    # What the parser assumed on the file's behalf (encoding fallback, zone of a date column,
    # library work-arounds): not errors, but worth showing beside the file in the registry.
    notes: list[str] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return sum(f.height for f in self.frames.values()) + len(self.rejected)


def empty_frame(name: str) -> pl.DataFrame:
    return pl.DataFrame(schema=FRAMES[name])


def conform(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Select and cast the canonical columns of `name`, in order (missing ones as nulls)."""
    schema = FRAMES[name]
    return frame.select(
        [
            (pl.col(c) if c in frame.columns else pl.lit(None)).cast(dtype).alias(c)
            for c, dtype in schema.items()
        ]
    )
