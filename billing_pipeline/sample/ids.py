"""Identifiers that look random but are unique by construction and reproducible from the seed.

Each id family numbers its members 0, 1, 2... and scrambles the number with a seeded
bijection of a power-of-two space that fits the id's width: no two members can collide, no
set of used ids has to be kept, and the same seed gives the same ids.
"""

from __future__ import annotations

import hashlib

_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_M1 = 0x9E3779B97F4A7C15F39CC0605CEDC835  # odd: multiplication is a bijection mod 2**bits
_M2 = 0xD6E8FEB86659FD93C2B2AE3D27D4EB4F
# Bits of each style's space: 24 hex digits; 2**142 < 62**24; 2**52 < 9e15 (16 digits).
_BITS = {"hex": 96, "alnum": 142, "digits16": 52}


def _seeded_offset(seed: int, family: str, bits: int) -> int:
    digest = hashlib.blake2b(f"{seed}:{family}".encode(), digest_size=24).digest()
    return int.from_bytes(digest, "big") % (1 << bits)


def _scramble(n: int, bits: int, offset: int) -> int:
    """A bijection of [0, 2**bits): add, multiply by odd, xor-shift (each step invertible)."""
    mask = (1 << bits) - 1
    x = (n + offset) & mask
    x = (x * _M1) & mask
    x ^= x >> (bits // 2)
    x = (x * _M2) & mask
    x ^= x >> (bits // 3)
    return x


_PAIRS = tuple(a + b for a in _ALNUM for b in _ALNUM)  # two base-62 digits at a time


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width // 2):
        number, rem = divmod(number, 3844)
        chars.append(_PAIRS[rem])
    return "".join(reversed(chars))


class IdFamily:
    """One kind of id: `next()` gives prefix + 24 hex / 24 alphanumerics / 16 digits."""

    __slots__ = ("_bits", "_count", "_offset", "_style", "prefix")

    def __init__(self, seed: int, prefix: str, style: str, family: str | None = None) -> None:
        if style not in _BITS:
            raise ValueError(f"unknown id style {style!r}")
        self.prefix = prefix
        self._style = style
        self._bits = _BITS[style]
        self._offset = _seeded_offset(seed, family or prefix, self._bits)
        self._count = 0

    def next(self) -> str:
        x = _scramble(self._count, self._bits, self._offset)
        self._count += 1
        if self._style == "hex":
            return f"{self.prefix}{x:024x}"
        if self._style == "alnum":
            return self.prefix + _base62(x, 24)
        return f"{self.prefix}{x + 10**15}"


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
        self.stripe_trace = IdFamily(seed, "", "digits16", "stripe_trace")
        self.adyen_psp = IdFamily(seed, "", "digits16", "adyen_psp")
        self.adyen_modification = IdFamily(seed, "", "digits16", "adyen_modification")
        self.adyen_payout = IdFamily(seed, "", "digits16", "adyen_payout")
        self.invoice_number = 0
        self.bank_entry = 0

    def next_invoice_number(self) -> str:
        self.invoice_number += 1
        return f"INV-{self.invoice_number:06d}"
