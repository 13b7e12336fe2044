"""CSV row rendering as the processors do it, and the malformed rows injected among them."""

from __future__ import annotations

import csv
import io

from billing_pipeline.domain.money import format_minor


def stripe_row(values: list[str]) -> str:
    """Stripe quoting: every non-empty field double-quoted, empty fields bare."""
    return ",".join('"' + v.replace('"', '""') + '"' if v else "" for v in values) + "\n"


def minimal_row(values: list[str]) -> str:
    """Adyen quoting: only fields that need it (a comma, a quote) are quoted."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def too_many_decimals(amount_minor: int, currency: str) -> str:
    """The amount with one decimal more than the currency allows ('12.345' USD, '500.5' JPY)."""
    text = format_minor(amount_minor, currency)
    return text + "7" if "." in text else text + ".5"


def bad_date(day_text: str) -> str:
    return f"{day_text[:7]}-32 25:61:00"
