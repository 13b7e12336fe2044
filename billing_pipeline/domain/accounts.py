"""The chart of accounts: colon paths under five roots, and the names analysts rely on.

An account is a path like `assets:processor_clearing:stripe`. The first segment is one of the
five roots; every segment is lower case and non-empty. A bare root is a heading, not an
account, so a valid account has at least two segments.

Parametrised accounts (a processor, a bank account id) take an identifier from the outside
world; `account_segment` turns it into a segment the one way the whole platform uses (also
vectorised in `account_segment_expr`, so a SQL/polars posting builds the same names): blanks
trimmed, every character outside `[A-Za-z0-9_.-]` replaced by `_`, then lower case. So ids
compare case-insensitively, and two ids differing only in punctuation would share an account,
which real bank and processor ids do not do.

Currency is not part of an account path: every journal line carries its currency, and
balances are kept per account x currency, so `assets:processor_clearing:stripe` holds USD and
EUR side by side without a `:usd` sub-account.
"""

from __future__ import annotations

import re
from enum import StrEnum

import polars as pl


class Side(StrEnum):
    DEBIT = "debit"
    CREDIT = "credit"


class AccountError(ValueError):
    """A string that is not a valid account path, or an identifier that cannot name one."""


# Root -> the side on which its accounts normally carry a balance.
NORMAL_SIDE: dict[str, Side] = {
    "assets": Side.DEBIT,
    "liabilities": Side.CREDIT,
    "equity": Side.CREDIT,
    "income": Side.CREDIT,
    "expenses": Side.DEBIT,
}
ROOTS = tuple(NORMAL_SIDE)

# The analyst contract (DESIGN.md "Ledger"). Do not rename.
BANK = "assets:bank"  # + :<account id>
CASH_IN_TRANSIT = "assets:cash_in_transit"
PROCESSOR_CLEARING = "assets:processor_clearing"  # + :<processor>
RECEIVABLES = "assets:receivables"
SUSPENSE = "assets:suspense"
CUSTOMER_CREDIT = "liabilities:customer_credit"
REVENUE = "income:revenue"
REFUNDS = "income:refunds"  # contra revenue: a debit balance is normal here
FX_GAIN_LOSS = "income:fx_gain_loss"
PROCESSOR_FEES = "expenses:processor_fees"
CHARGEBACKS = "expenses:chargebacks"
BAD_DEBT = "expenses:bad_debt"
BANK_FEES = "expenses:bank_fees"
ROUNDING = "expenses:rounding"
# Sub-accounts this project adds below the contract (see posting.py for why).
PROCESSOR_ADJUSTMENTS = "expenses:processor_fees:adjustments"
RECON_WRITE_OFF_LOSS = "expenses:reconciliation_write_off"
RECON_WRITE_OFF_GAIN = "income:reconciliation_write_off"

CONTRACT_ACCOUNTS = (
    CASH_IN_TRANSIT,
    RECEIVABLES,
    SUSPENSE,
    CUSTOMER_CREDIT,
    REVENUE,
    REFUNDS,
    FX_GAIN_LOSS,
    PROCESSOR_FEES,
    CHARGEBACKS,
    BAD_DEBT,
    BANK_FEES,
    ROUNDING,
)

_SEGMENT = r"[a-z0-9_.-]+"
ACCOUNT_PATTERN = rf"^(?:{'|'.join(ROOTS)})(?::{_SEGMENT})+$"
_ACCOUNT = re.compile(ACCOUNT_PATTERN)
# Replace first, lower-case after: only ASCII is left to lower-case, so Python and the
# polars/SQL engines cannot disagree on Unicode case or whitespace rules.
_NOT_ID_CHAR = r"[^A-Za-z0-9_.-]"
_BLANK = " \t\r\n"


def is_valid_account(path: object) -> bool:
    return isinstance(path, str) and _ACCOUNT.match(path) is not None


def validate_account(path: object) -> str:
    """The path itself when valid; otherwise an `AccountError` that says what is wrong."""
    if is_valid_account(path):
        return path  # type: ignore[return-value]
    if not isinstance(path, str):
        raise AccountError(f"account must be text, got {path!r}")
    segments = path.split(":")
    if segments[0] not in NORMAL_SIDE:
        raise AccountError(f"account {path!r} must start with one of {', '.join(ROOTS)}")
    if len(segments) < 2:
        raise AccountError(f"{path!r} is a root, not an account: add a sub-account")
    if "" in segments:
        raise AccountError(f"account {path!r} has an empty segment")
    raise AccountError(f"account {path!r} has a segment outside lower-case [a-z0-9_.-]")


def root_of(path: str) -> str:
    return validate_account(path).split(":", 1)[0]


def normal_side(path: str) -> Side:
    """The side on which the account normally carries its balance (by its root)."""
    return NORMAL_SIDE[root_of(path)]


def account_segment(identifier: object) -> str:
    """An outside identifier (processor name, bank account id) as one account segment."""
    if not isinstance(identifier, str) or not identifier.strip(_BLANK):
        raise AccountError(f"cannot name an account after {identifier!r}: need non-empty text")
    return re.sub(_NOT_ID_CHAR, "_", identifier.strip(_BLANK)).lower()


def account_segment_expr(column: str) -> pl.Expr:
    """Vectorised `account_segment` (null or blank identifiers stay null)."""
    cleaned = pl.col(column).str.strip_chars(_BLANK)
    return (
        pl.when(cleaned.str.len_chars() > 0)
        .then(cleaned.str.replace_all(_NOT_ID_CHAR, "_").str.to_lowercase())
        .otherwise(pl.lit(None, dtype=pl.Utf8))
    )


def child(parent: str, *identifiers: str) -> str:
    """`parent` extended by one segment per identifier, e.g. child(BANK, "NL91ABNA0417164300")."""
    validate_account(parent)
    return ":".join([parent, *(account_segment(i) for i in identifiers)])


def bank_account(account_id: str) -> str:
    return child(BANK, account_id)


def processor_clearing(processor: str) -> str:
    return child(PROCESSOR_CLEARING, processor)
