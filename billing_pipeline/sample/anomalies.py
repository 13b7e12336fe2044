"""Deciding where anomalies go: a seeded draw per opportunity, plus one forced of each kind.

`hit(kind)` is asked at every opportunity for that kind (a payout, a payment, a CSV row...).
A forced hit happens at the first opportunity the caller marks as able to show up in the
files (e.g. a payout whose bank arrival is inside the world), so a big-enough world always
contains every kind.
"""

from __future__ import annotations

import random
from collections import Counter

from billing_pipeline.sample.config import AnomalyRates

MIN_FORCED_DAYS = 3
MIN_FORCED_PAYMENTS_PER_DAY = 20

MALFORMED_CSV = ("bad_date", "unknown_currency", "broken_quoting", "too_many_decimals")
MALFORMED_EVENT = ("bad_date", "unknown_currency", "broken_json", "too_many_decimals")


class AnomalyPlan:
    def __init__(self, rates: AnomalyRates, seed: int, n_days: int, payments_per_day: int) -> None:
        self.rates = {k: getattr(rates, k) for k in rates.kinds()}
        self.rng = random.Random(f"{seed}:anomalies")
        self.force = (
            rates.force_each_kind
            and n_days >= MIN_FORCED_DAYS
            and payments_per_day >= MIN_FORCED_PAYMENTS_PER_DAY
        )
        self.decided: Counter[str] = Counter()
        self._malformed_turn: Counter[tuple[str, ...]] = Counter()

    def hit(self, kind: str, eligible: bool = True, force_key: str | None = None) -> bool:
        """Inject `kind` here? `force_key` forces one per sub-place (e.g. CSV vs event log)."""
        rate = self.rates[kind]
        if rate <= 0:
            return False
        drawn = self.rng.random() < rate
        if not eligible:
            return False
        key = force_key or kind
        if drawn or (self.force and self.decided[key] == 0):
            self.decided[key] += 1
            return True
        return False

    def malformed_variant(self, variants: tuple[str, ...]) -> str:
        """Rotate through the malformation variants so a few hits already show each one."""
        variant = variants[self._malformed_turn[variants] % len(variants)]
        self._malformed_turn[variants] += 1
        return variant

    def uniform(self, low: float, high: float) -> float:
        return self.rng.uniform(low, high)

    def randint(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)
