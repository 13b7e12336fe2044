"""What every bank statement renderer receives: the statement frame and its entries."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import TextIO

from billing_pipeline.sample.config import BankAccount


@dataclass(frozen=True, slots=True)
class Statement:
    account: BankAccount
    day: date
    sequence: int  # statement number, 1 for the first simulated business day
    statement_id: str
    created: int  # instant the bank produced the file
    opening: int
    closing: int
    credits: int  # sum of credit amounts (positive)
    debits: int  # sum of debit amounts (positive)
    n_credits: int
    n_debits: int


@dataclass(frozen=True, slots=True)
class Entry:
    entry_ref: str
    amount: int  # signed minor units: credit positive
    kind: str  # payout | invoice_payment | bank_fee | rent | salaries | supplier | interest
    end_to_end: str
    counterparty: str
    text: str
    payload: dict


# renderer(out, statement, entries, on_entry(entry, line_no)) writes one statement file.
Renderer = Callable[[TextIO, Statement, Iterable[Entry], Callable[[Entry, int], None]], None]
