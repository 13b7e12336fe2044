"""PNG pictures of a business date: an aging chart and a reconciliation funnel.

Rendered with matplotlib's Agg backend (no display needed) into bytes, so the same picture
can be written beside the report and embedded in the Dagster UI as base64 markdown.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import date

import duckdb
import matplotlib

matplotlib.use("Agg")  # headless: never pick an interactive backend
from matplotlib import pyplot as plt
from matplotlib.ticker import MaxNLocator

from billing_pipeline.domain.money import MoneyError, format_minor
from billing_pipeline.reporting import queries

_COLOURS = {"matched": "#2e7d32", "pending": "#f9a825", "open": "#c62828"}


@dataclass(frozen=True)
class BarData:
    title: str
    labels: list[str]
    values: list[int]
    unit: str
    currency: str | None = None  # values are minor units of this currency


def aging_data(conn: duckdb.DuckDBPyConnection, day: date) -> BarData:
    """Invoice aging when receivables are published; else open discrepancies by age."""
    if "receivables.invoice_aging" in queries.published_relations(conn):
        columns = queries.columns_of(conn, "receivables.invoice_aging")
        if {"functional_amount_due_minor", "functional_currency"} <= columns:
            measure, unit = "sum(functional_amount_due_minor)", "any_value(functional_currency)"
        else:
            measure, unit = "count(*)", "'invoices'"
        rows = conn.execute(
            f"select bucket, coalesce({measure}, 0), {unit} from receivables.invoice_aging "
            "where as_of_date = ? and amount_due_minor != 0 group by bucket",
            [day],
        ).fetchall()
        by_bucket = {bucket: (int(value), str(u)) for bucket, value, u in rows}
        units = {u for _, u in by_bucket.values()}
        label = units.pop() if len(units) == 1 else "invoices"
        return BarData(
            f"Invoice aging on {day}",
            list(queries.INVOICE_AGING_BUCKETS),
            [by_bucket.get(b, (0, ""))[0] for b in queries.INVOICE_AGING_BUCKETS],
            label if measure == "count(*)" else f"{label} (minor units)",
            None if measure == "count(*)" else label,
        )
    section = queries.open_discrepancies(conn, day)
    counts = dict.fromkeys(queries.DISCREPANCY_AGE_BUCKETS, 0)
    if isinstance(section, queries.Section):
        for _type, bucket, _ccy, items, _amount in section.rows:
            counts[bucket] += int(items)
    return BarData(
        f"Open discrepancies by age (receivables not published yet), as of {day}",
        [f"{b} days" for b in counts],
        list(counts.values()),
        "discrepancies",
    )


def aging_png(data: BarData) -> bytes:
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=100)
    try:
        bars = ax.bar(data.labels, data.values, color="#1565c0")
        ax.bar_label(bars, labels=[_label(v, data.currency) for v in data.values], fontsize=8)
        ax.set_title(data.title, fontsize=10)
        ax.set_ylabel(data.unit)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        return _png(fig)
    finally:
        plt.close(fig)


def funnel_png(section: queries.Section | queries.NotPublished, title: str) -> bytes:
    """Per leg, one horizontal bar split into matched, pending and open items."""
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
    try:
        if isinstance(section, queries.NotPublished):
            ax.text(0.5, 0.5, str(section), ha="center", va="center")
            ax.set_axis_off()
        else:
            legs = [row[0] for row in section.rows]
            left = [0] * len(legs)
            for index, part in enumerate(("matched", "pending", "open"), start=1):
                values = [int(row[index]) for row in section.rows]
                ax.barh(legs, values, left=left, color=_COLOURS[part], label=part)
                left = [a + b for a, b in zip(left, values, strict=True)]
            ax.invert_yaxis()
            ax.set_xlabel("items")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.legend(loc="lower right", fontsize=8)
            ax.spines[["top", "right"]].set_visible(False)
        ax.set_title(title, fontsize=10)
        fig.tight_layout()
        return _png(fig)
    finally:
        plt.close(fig)


def _label(value: int, currency: str | None) -> str:
    """Exact major-unit text for money (never through a float), a count otherwise."""
    if currency is None:
        return f"{value:,}"
    try:
        return f"{format_minor(value, currency)} {currency}"
    except MoneyError:
        return f"{value:,}"


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    # No timestamp in the file: the same data gives the same bytes.
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def markdown_image(png: bytes, alt: str) -> str:
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def render_charts(conn: duckdb.DuckDBPyConnection, day: date) -> dict[str, bytes]:
    """File name -> PNG bytes of every chart of the date."""
    funnel = queries.funnel(conn)
    as_of = funnel.as_of if isinstance(funnel, queries.Section) else None
    return {
        "aging.png": aging_png(aging_data(conn, day)),
        "recon_funnel.png": funnel_png(funnel, f"Reconciliation funnel, as of {as_of or day}"),
    }


def chart_metadata(analytics_path, partition_key: str, log) -> dict:
    """Dagster metadata with the date's charts as markdown images, read from the published
    file. The file is already published when this runs: a chart that fails to render is
    logged and left out, never a failed publish."""
    import dagster as dg

    try:
        with duckdb.connect(str(analytics_path), read_only=True) as conn:
            charts = render_charts(conn, date.fromisoformat(partition_key))
    except Exception as error:  # a picture must never fail a publish
        log.warning(f"charts not rendered: {error!r}")
        return {}
    return {
        f"chart/{name.removesuffix('.png')}": dg.MetadataValue.md(markdown_image(png, name))
        for name, png in charts.items()
    }
