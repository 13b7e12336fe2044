"""Bank account numbers never reach logs or run metadata in full: all but the last 4 masked.

Account ids travel inside references (`bank:<account id>:<entry key>`, the event store's
idempotency keys and the reconciliation's bank refs) and as IBANs in free text. Masking is
applied to whatever is about to be logged or attached to a run, not to the warehouse, where
the full id is the analyst contract (`assets:bank:<account id>`).
"""

from __future__ import annotations

import re
from typing import Any

VISIBLE = 4
_BANK_REF = re.compile(r"(?<![A-Za-z0-9_])bank:([^:\s]+)")
_BANK_ACCOUNT = re.compile(r"(assets:bank:)([^:\s]+)")
# An IBAN (country, check digits, 10-30 alphanumerics) or a long run of digits (a domestic
# account number) standing on its own in free text.
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}[A-Z0-9]{10,30}\b")
_LONG_NUMBER = re.compile(r"\b\d{9,34}\b")


def mask_account(account_id: str) -> str:
    """`DE89370400440532013000` -> `******************3000`; short ids are masked whole."""
    if len(account_id) <= VISIBLE:
        return "*" * len(account_id)
    return "*" * (len(account_id) - VISIBLE) + account_id[-VISIBLE:]


def mask_text(text: str) -> str:
    text = _BANK_REF.sub(lambda m: "bank:" + mask_account(m.group(1)), text)
    text = _BANK_ACCOUNT.sub(lambda m: m.group(1) + mask_account(m.group(2)), text)
    text = _IBAN.sub(lambda m: mask_account(m.group(0)), text)
    return _LONG_NUMBER.sub(lambda m: mask_account(m.group(0)), text)


def mask_metadata(value: Any) -> Any:
    """The same structure with every string masked (dicts, lists, tuples walked through)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {key: mask_metadata(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(mask_metadata(item) for item in value)
    return value
