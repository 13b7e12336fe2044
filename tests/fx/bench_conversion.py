"""Functional conversion of N journal lines: set-based (`fx_convert`) vs the Python loop the
journal used before (`convert_minor` per amount). Not collected by pytest; run by hand:

    .venv/bin/python tests/fx/bench_conversion.py [N]

The lines mimic a day at scale: ECB rates of 5 business days for 8 currencies into USD
(34-digit cross rates included), amounts up to 10^9 minor units.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import date, timedelta
from decimal import Decimal

import polars as pl

from billing_pipeline.domain.fx import RateBook
from billing_pipeline.domain.rounding import convert_minor
from billing_pipeline.warehouse.fx_convert import convert_columns

CURRENCIES = ["EUR", "GBP", "JPY", "CHF", "SEK", "IDR", "KRW", "USD"]


def lines(n: int, seed: int = 7) -> pl.DataFrame:
    book, rng = RateBook.from_ecb(), random.Random(seed)
    days = [date(2024, 5, 6) + timedelta(days=d) for d in range(5)]
    rates = [(c, str(book.rate(d, c, "USD").rate)) for d in days for c in CURRENCIES]
    picks = [rng.choice(rates) for _ in range(n)]
    debit = [rng.randint(0, 10**9) if rng.random() < 0.5 else 0 for _ in range(n)]
    return pl.DataFrame(
        {
            "currency": [c for c, _ in picks],
            "rate": [r for _, r in picks],
            "debit_minor": debit,
            "credit_minor": [0 if d else rng.randint(1, 10**9) for d in debit],
        }
    )


def python_loop(frame: pl.DataFrame) -> tuple[list[int], list[int]]:
    debit, credit, rates = [], [], {}
    for currency, rate, d, c in frame.iter_rows():
        quote = rates.get(rate) or rates.setdefault(rate, Decimal(rate))
        debit.append(convert_minor(d, currency, "USD", quote, "half_even"))
        credit.append(convert_minor(c, currency, "USD", quote, "half_even"))
    return debit, credit


def main(n: int) -> None:
    frame = lines(n)
    start = time.perf_counter()
    vector = convert_columns(frame, {"fd": "debit_minor", "fc": "credit_minor"}, "USD", "half_even")
    vector_s = time.perf_counter() - start
    start = time.perf_counter()
    debit, credit = python_loop(frame)
    python_s = time.perf_counter() - start
    assert vector["fd"].to_list() == debit and vector["fc"].to_list() == credit
    print(
        f"{n:,} lines: set-based {vector_s:.2f}s, python loop {python_s:.2f}s, "
        f"speedup x{python_s / vector_s:.0f}, results identical"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
