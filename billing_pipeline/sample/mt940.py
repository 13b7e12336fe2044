"""SWIFT MT940 customer statement, one statement per file (block 4 content only)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable
from typing import TextIO

from billing_pipeline.domain.money import format_minor
from billing_pipeline.sample.statement import Entry, Statement

_TYPES = {
    "payout": "NTRF",
    "invoice_payment": "NTRF",
    "rent": "NTRF",
    "salaries": "NSAL",
    "supplier": "NTRF",
    "bank_fee": "NCHG",
    "interest": "NINT",
}


def _amount(minor: int, ccy: str) -> str:
    return format_minor(abs(minor), ccy).replace(".", ",")


def _balance(tag: str, minor: int, s: Statement) -> str:
    mark = "C" if minor >= 0 else "D"
    return f":{tag}:{mark}{s.day:%y%m%d}{s.account.currency}{_amount(minor, s.account.currency)}\n"


def render_mt940(
    out: TextIO, s: Statement, entries: Iterable[Entry], on_entry: Callable[[Entry, int], None]
) -> None:
    acct = s.account
    head = f":20:{s.statement_id[:16]}\n:25:{acct.account_id}\n:28C:{s.sequence}/1\n" + _balance(
        "60F", s.opening, s
    )
    out.write(head)
    line = head.count("\n") + 1
    yymmdd, mmdd = f"{s.day:%y%m%d}", f"{s.day:%m%d}"
    for e in entries:
        on_entry(e, line)
        mark = "C" if e.amount >= 0 else "D"
        customer_ref = (e.end_to_end or "NONREF")[:16]
        narrative = textwrap.wrap(f"{e.text} {e.counterparty}".strip(), 65)[:6] or ["NONREF"]
        text = (
            f":61:{yymmdd}{mmdd}{mark}{_amount(e.amount, acct.currency)}{_TYPES[e.kind]}"
            f"{customer_ref}//{e.entry_ref}\n:86:" + "\n".join(narrative) + "\n"
        )
        out.write(text)
        line += text.count("\n")
    out.write(_balance("62F", s.closing, s) + "-\n")
