"""BAI2 prior-day file for one account: 01/02/03(+88)/16(+88)/49/98/99 with control totals.

Amounts are minor units without a decimal point; summary balances are signed, detail amounts
unsigned (the type code says credit or debit). Control totals follow the BAI2 rule the `bai2`
package checks: account total = all 03 amounts + all 16 amounts; record counts include the
88 continuations and the trailer itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TextIO

from billing_pipeline.sample.statement import Entry, Statement

_TYPES = {
    "payout": "165",
    "invoice_payment": "195",
    "interest": "354",
    "rent": "495",
    "salaries": "469",
    "supplier": "495",
    "bank_fee": "698",
}
# When an entry's sign disagrees with its kind (a negative payout): generic credit/debit codes.
_ANY_CREDIT, _ANY_DEBIT = "108", "699"
_CREDIT_CODES = {"165", "195", "354", "108"}
RECEIVER = "BILLINGCO"


def _type_code(e: Entry) -> str:
    code = _TYPES[e.kind]
    if (code in _CREDIT_CODES) != (e.amount >= 0):
        return _ANY_CREDIT if e.amount >= 0 else _ANY_DEBIT
    return code


def render_bai2(
    out: TextIO, s: Statement, entries: Iterable[Entry], on_entry: Callable[[Entry, int], None]
) -> None:
    acct = s.account
    created = datetime.fromtimestamp(s.created, UTC)
    day = f"{s.day:%y%m%d}"
    lines = [
        f"01,{acct.bank_id},{RECEIVER},{created:%y%m%d},{created:%H%M},{s.sequence},80,1,2/",
        f"02,{RECEIVER},{acct.bank_id},1,{day},2400,{acct.currency},2/",
        f"03,{acct.account_id},{acct.currency},010,{s.opening},,,015,{s.closing},,/",
        f"88,100,{s.credits},{s.n_credits},,400,{s.debits},{s.n_debits},/",
    ]
    out.write("\n".join(lines) + "\n")
    line = len(lines) + 1
    account_total = s.opening + s.closing + s.credits + s.debits
    account_records = 2  # 03 and its 88
    for e in entries:
        on_entry(e, line)
        text = e.text.replace("/", " ")
        out.write(f"16,{_type_code(e)},{abs(e.amount)},0,{e.entry_ref},{e.end_to_end},{text}\n")
        out.write(f"88,PARTY:={e.counterparty}\n")
        line += 2
        account_total += abs(e.amount)
        account_records += 2
    account_records += 1  # 49
    out.write(f"49,{account_total},{account_records}/\n")
    group_records = account_records + 2  # 02 and 98
    out.write(f"98,{account_total},1,{group_records}/\n")
    out.write(f"99,{account_total},1,{group_records + 2}/\n")
