"""rates/<date>/rates.csv and the truth of all rates.

The file always carries EUR->KWD, which the ECB does not publish. For dates after the ECB data
shipped with the package ends (a stale reference rate is refused, not guessed), it also carries
the ECB currencies, carried forward from the last fixing: a treasury team supplies exactly such
a file when the reference rates lag.
"""

from __future__ import annotations

from datetime import date, timedelta

from billing_pipeline.sample.config import ADYEN_SETTLEMENT_CURRENCY, STRIPE_SETTLEMENT_CURRENCY
from billing_pipeline.sample.context import World
from billing_pipeline.sample.fx import ECB_CURRENCIES, rate_text

HEADER = "date,base_currency,quote_currency,rate\n"
# Beyond a weekend's gap the ECB fixing is old: write the carried-forward rates explicitly.
DAYS_BEFORE_OVERRIDE = 4


def write_rates_day(world: World, day: date) -> None:
    kwd = world.rates.kwd[day]
    rows = [f"{day},EUR,KWD,{kwd:.6f}\n"]
    if world.rates.ecb_date[day] < day - timedelta(days=DAYS_BEFORE_OVERRIDE):
        per_eur = world.rates.per_eur[day]
        rows += [f"{day},EUR,{ccy},{rate_text(per_eur[ccy])}\n" for ccy in ECB_CURRENCIES]
    path = world.out_path("rates", day, "rates.csv")
    path.write_text(HEADER + "".join(rows), encoding="utf-8", newline="")
    rel = world.rel(path)
    world.truth.row("files", rel, "rates", len(rows), len(rows), 0, "")
    world.files_written.append(rel)
    truth = world.truth
    per_eur = world.rates.per_eur[day]
    ecb_day = world.rates.ecb_date[day]
    for ccy in ECB_CURRENCIES:
        truth.row("rates", day, "EUR", ccy, rate_text(per_eur[ccy]), f"ecb {ecb_day}")
    truth.row("rates", day, "EUR", "KWD", f"{kwd:.6f}", "generated (rates file)")
    for processor, table in (
        ("stripe", STRIPE_SETTLEMENT_CURRENCY),
        ("adyen", ADYEN_SETTLEMENT_CURRENCY),
    ):
        for source, target in sorted(table.items()):
            if source != target:
                rate = world.rates.processor_rate(day, processor, source, target)
                truth.row("rates", day, source, target, rate_text(rate), processor)
