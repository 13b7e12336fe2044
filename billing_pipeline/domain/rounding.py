"""The one place where an exact amount becomes whole minor units.

Every conversion computes the exact product first (Decimal arithmetic with the inexact signal
trapped, so nothing is rounded on the way) and rounds once, here, with a named rule.
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from enum import StrEnum

from billing_pipeline.domain.money import exponent


class RoundingRule(StrEnum):
    HALF_EVEN = "half_even"  # banker's rounding: ties to the even neighbour (the default)
    HALF_UP = "half_up"  # ties away from zero (what most people call "round half up")
    HALF_DOWN = "half_down"  # ties towards zero
    DOWN = "down"  # truncate towards zero
    UP = "up"  # away from zero
    FLOOR = "floor"  # towards negative infinity
    CEILING = "ceiling"  # towards positive infinity


DEFAULT_ROUNDING = RoundingRule.HALF_EVEN

_DECIMAL_MODE = {
    RoundingRule.HALF_EVEN: decimal.ROUND_HALF_EVEN,
    RoundingRule.HALF_UP: decimal.ROUND_HALF_UP,
    RoundingRule.HALF_DOWN: decimal.ROUND_HALF_DOWN,
    RoundingRule.DOWN: decimal.ROUND_DOWN,
    RoundingRule.UP: decimal.ROUND_UP,
    RoundingRule.FLOOR: decimal.ROUND_FLOOR,
    RoundingRule.CEILING: decimal.ROUND_CEILING,
}


def rounding_rule(name: str | RoundingRule) -> RoundingRule:
    """The rule called `name` ('half_even', 'half_up', ...), or a ValueError listing them."""
    try:
        return RoundingRule(name)
    except ValueError:
        names = ", ".join(r.value for r in RoundingRule)
        raise ValueError(f"unknown rounding rule {name!r}; use one of {names}") from None


def exact_context(*operands: Decimal) -> decimal.Context:
    """A context wide enough to multiply the operands exactly, that raises if it cannot."""
    digits = sum(len(op.as_tuple().digits) for op in operands)
    return decimal.Context(prec=digits + 2, traps=[decimal.Inexact, decimal.InvalidOperation])


def round_minor(exact: Decimal, rule: str | RoundingRule = DEFAULT_ROUNDING) -> int:
    """`exact` (a number of minor units) rounded to an integer with `rule`."""
    mode = _DECIMAL_MODE[rounding_rule(rule)]
    ctx = decimal.Context(prec=max(exact.adjusted() + 2, 1) + 1, rounding=mode)
    return int(exact.quantize(Decimal(1), context=ctx))


def convert_minor(
    amount_minor: int,
    from_currency: str,
    to_currency: str,
    rate: Decimal,
    rule: str | RoundingRule = DEFAULT_ROUNDING,
) -> int:
    """`amount_minor` of `from_currency` in minor units of `to_currency` at `rate`.

    rate is units of `to_currency` per one unit of `from_currency` (1 from = rate to). The
    exact value amount * 10^-exp_from * rate * 10^exp_to is computed without rounding and then
    rounded once with `rule`.
    """
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool):
        raise TypeError(f"amount_minor must be an int, got {amount_minor!r}")
    if not isinstance(rate, Decimal) or not rate.is_finite() or rate <= 0:
        raise ValueError(f"rate must be a positive finite Decimal, got {rate!r}")
    shift = exponent(to_currency) - exponent(from_currency)
    amount = Decimal(amount_minor)
    ctx = exact_context(amount, rate)
    exact = ctx.scaleb(ctx.multiply(amount, rate), shift)
    return round_minor(exact, rule)
