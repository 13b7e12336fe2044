"""What the sample world looks like: the merchant, its accounts, and how often things go wrong."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date

FUNCTIONAL_CURRENCY = "USD"
PROCESSORS = ("stripe", "adyen")

# Share of payments per charge currency, and a rough "how many minor units is one US cent"
# used only to draw plausible amounts (JPY has no decimals, KWD has three).
CURRENCY_MIX = (("USD", 0.45), ("EUR", 0.25), ("GBP", 0.15), ("JPY", 0.08), ("KWD", 0.07))
MINOR_PER_US_CENT = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79, "JPY": 1.5, "KWD": 3.1}

# Charges in a currency the merchant holds no account in are converted by the processor.
STRIPE_SETTLEMENT_CURRENCY = {"USD": "USD", "EUR": "EUR", "GBP": "GBP", "JPY": "USD", "KWD": "USD"}
ADYEN_SETTLEMENT_CURRENCY = {"USD": "USD", "EUR": "EUR", "GBP": "GBP", "JPY": "EUR", "KWD": "EUR"}
# Processor FX markup over the reference rate, in percent (the merchant receives less).
FX_MARKUP_PERCENT = {"stripe": "1.0", "adyen": "0.6"}

ADYEN_COMPANY = "BillingCo"
ADYEN_MERCHANT_ACCOUNTS = {"EUR": "BillingCoEUR", "USD": "BillingCoUSD", "GBP": "BillingCoGBP"}
ADYEN_FIRST_BATCH = 101


@dataclass(frozen=True, slots=True)
class BankAccount:
    account_id: str  # as the statement gives it
    currency: str
    bank_format: str  # camt053 | mt940 | bai2
    bank_name: str
    bank_id: str  # BIC or routing number
    opening_balance_minor: int  # before the first simulated day, scaled by volume


# One account per settlement currency; every payout and bank transfer lands in its currency's.
BANK_ACCOUNTS = (
    BankAccount(
        "DE89370400440532013000", "EUR", "camt053", "Commerzbank AG", "COBADEFFXXX", 25_000_00
    ),
    BankAccount("GB29NWBK60161331926819", "GBP", "mt940", "NatWest", "NWBKGB2L", 18_000_00),
    BankAccount("4021987765", "USD", "bai2", "First Example Bank", "121000248", 40_000_00),
)
BANK_BY_CURRENCY = {a.currency: a for a in BANK_ACCOUNTS}


@dataclass(frozen=True, slots=True)
class AnomalyRates:
    """Probability of each injected anomaly per opportunity (per payout, event, line, file...).

    With `force_each_kind`, every kind with a positive rate is injected at least once when the
    world is big enough (>= 3 days and >= 20 payments a day), so a small demo shows them all.
    """

    payout_missing_at_bank: float = 0.02  # per payout
    bank_amount_off_by_fee: float = 0.03  # per payout
    duplicate_event: float = 0.001  # per payment
    conflicting_event: float = 0.0005  # per payment
    illegal_transition: float = 0.02  # per failed or voided payment
    orphan_settlement_line: float = 0.0005  # per settlement line
    late_settlement: float = 0.002  # per capture
    malformed_row: float = 0.0005  # per processor CSV row / event line
    file_delivered_twice: float = 0.02  # per processor or bank file
    force_each_kind: bool = True

    @classmethod
    def none(cls) -> AnomalyRates:
        return cls(
            **{f.name: 0.0 for f in fields(cls) if f.name != "force_each_kind"},
            force_each_kind=False,
        )

    def kinds(self) -> tuple[str, ...]:
        return tuple(f.name for f in fields(self) if f.name != "force_each_kind")


ANOMALY_KINDS = AnomalyRates().kinds()


@dataclass(frozen=True, slots=True)
class WorldSpec:
    start: date
    end: date
    payments_per_day: int
    seed: int


DEFAULT_WORLD = WorldSpec(
    start=date(2026, 10, 5), end=date(2026, 10, 9), payments_per_day=400, seed=7
)
