"""Identifiers that look random but are unique by construction and reproducible from the seed.

Each id family numbers its members 0, 1, 2... and scrambles the number with a bijection of
a fixed-size space (multiply by an odd/coprime constant, add a seeded offset): no two members
can collide, no set of used ids has to be kept, and the same seed gives the same ids.
"""

from __future__ import annotations

import hashlib

_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_HEX_SPACE = 16**24
_ALNUM_SPACE = 62**24
# Multipliers coprime with their space (odd for powers of two, coprime with 2, 3, 5 and 31).
_HEX_MULT = 0x9E3779B97F4A7C15F39CC061
_ALNUM_MULT = 0x9E3779B97F4A7C15F39CC0605CEDC835
_DIGITS_MULT = 7_919_000_000_003


def _seeded_offset(seed: int, family: str, space: int) -> int:
    digest = hashlib.blake2b(f"{seed}:{family}".encode(), digest_size=20).digest()
    return int.from_bytes(digest, "big") % space


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, rem = divmod(number, 62)
        chars.append(_ALNUM[rem])
    return "".join(reversed(chars))


class IdFamily:
    """One kind of id: `next()` gives prefix + 24 hex / 24 alphanumerics / 16 digits."""

    __slots__ = ("_count", "_offset", "_render", "prefix")

    def __init__(self, seed: int, prefix: str, style: str) -> None:
        self.prefix = prefix
        self._count = 0
        if style == "hex":
            offset = _seeded_offset(seed, prefix, _HEX_SPACE)
            self._render = lambda n: f"{(n * _HEX_MULT + offset) % _HEX_SPACE:024x}"
        elif style == "alnum":
            offset = _seeded_offset(seed, prefix, _ALNUM_SPACE)
            self._render = lambda n: _base62((n * _ALNUM_MULT + offset) % _ALNUM_SPACE, 24)
        elif style == "digits16":
            # 16 digits without a leading zero: a bijection of [0, 9e15) shifted by 1e15.
            space = 9 * 10**15
            offset = _seeded_offset(seed, prefix, space)
            self._render = lambda n: str((n * _DIGITS_MULT + offset) % space + 10**15)
        else:
            raise ValueError(f"unknown id style {style!r}")
        self._offset = offset

    def next(self) -> str:
        n = self._count
        self._count += 1
        return self.prefix + self._render(n)


class Ids:
    """All id families of one world."""

    def __init__(self, seed: int) -> None:
        self.event = IdFamily(seed, "evt_", "hex")
        self.payment = IdFamily(seed, "pay_", "hex")
        self.invoice = IdFamily(seed, "inv_", "hex")
        self.stripe_txn = IdFamily(seed, "txn_", "alnum")
        self.stripe_charge = IdFamily(seed, "ch_", "alnum")
        self.stripe_intent = IdFamily(seed, "pi_", "alnum")
        self.stripe_refund = IdFamily(seed, "re_", "alnum")
        self.stripe_dispute = IdFamily(seed, "dp_", "alnum")
        self.stripe_payout = IdFamily(seed, "po_", "alnum")
        self.stripe_fee = IdFamily(seed, "fee_", "alnum")
        self.stripe_trace = IdFamily(seed + 2, "", "digits16")
        self.adyen_psp = IdFamily(seed, "", "digits16")
        self.adyen_modification = IdFamily(seed + 1, "", "digits16")
        self.adyen_payout = IdFamily(seed + 3, "", "digits16")
        self.invoice_number = 0
        self.bank_entry = 0

    def next_invoice_number(self) -> str:
        self.invoice_number += 1
        return f"INV-{self.invoice_number:06d}"
