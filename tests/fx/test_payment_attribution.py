"""Per-payment FX attribution over the month-end world (conftest): every realized result of
an invoice, charge or payout item is split to the cent across payments and the rest."""

from __future__ import annotations

import polars as pl
import pytest

from billing_pipeline.warehouse.fx_attribution import STEPS, attribution_sql, payment_attribution

STEP_COLUMNS = [f"{step}_minor" for step in STEPS]


@pytest.fixture(scope="module")
def attribution(fx_world):
    conn, _, _ = fx_world
    lines = conn.sql("select * from ledger_store.journal_lines").pl()
    return lines, payment_attribution(conn, lines)


def test_each_payments_steps_sum_to_its_total_fx_effect(attribution):
    _, rows = attribution
    assert rows.height > 0
    assert (
        (rows.select(pl.sum_horizontal(STEP_COLUMNS) == pl.col("total_fx_minor"))).to_series().all()
    )


def test_payments_and_the_unattributed_rest_add_up_to_the_ledgers_realized_fx(attribution):
    lines, rows = attribution
    gain = pl.col("functional_credit_minor") - pl.col("functional_debit_minor")
    realized = lines.filter(
        (pl.col("fact_type") == "fx.realized")
        & (pl.col("account") != "income:fx_gain_loss")
        & pl.col("fx_item").str.contains(r"^(invoice|charge|payout):")
    )
    spread = lines.filter(
        (pl.col("fact_type") == "settlement.conversion")
        & (pl.col("account") == "income:fx_gain_loss")
    )
    ledger_total = -realized.select(gain.sum()).item() + spread.select(gain.sum()).item()
    assert ledger_total != 0  # the world crosses rates: there is something to attribute
    assert rows["total_fx_minor"].sum() == ledger_total
    by_step = {
        "invoice_to_capture": r"^invoice:",
        "capture_to_settlement": r"^charge:",
        "settlement_to_bank": r"^payout:",
    }
    for step, pattern in by_step.items():
        booked = -realized.filter(pl.col("fx_item").str.contains(pattern)).select(gain.sum()).item()
        if step == "capture_to_settlement":
            booked += spread.select(gain.sum()).item()
        assert rows[f"{step}_minor"].sum() == booked, step


def test_every_captured_payment_has_one_row_and_converted_ones_have_a_settlement_step(
    attribution, fx_world
):
    conn, _, _ = fx_world
    _, rows = attribution
    # fetchall, not fetchone: DuckDB 2.0 keeps a half-read result open on the shared
    # connection and refuses the next query of another test.
    captured = conn.execute(
        "select count(distinct payload->>'payment_id') from store.events "
        "where event_type = 'payment.captured'"
    ).fetchall()[0][0]
    paid = rows.filter(pl.col("payment_id").is_not_null())
    assert paid.height == captured == paid["payment_id"].n_unique()
    converted = conn.execute(
        "select count(distinct payload->>'processor_ref') from store.events "
        "where event_type like 'settlement.%' "
        "and payload->>'original_currency' != payload->>'currency' "
        "and payload->>'line_type' = 'charge'"
    ).fetchall()[0][0]
    if converted:
        assert paid.filter(pl.col("capture_to_settlement_minor") != 0).height > 0


def test_the_journal_read_in_place_gives_the_rows_the_journal_as_a_frame_gives(
    fx_world, attribution
):
    # The dbt model reads the journal in place so a long history never sits in Python.
    conn, _, _ = fx_world
    _, from_frame = attribution
    in_place = payment_attribution(conn)
    assert in_place.height > 0 and in_place.equals(from_frame)


def test_the_models_unordered_query_holds_the_frames_rows(fx_world, attribution):
    # The dbt model writes the query unsorted (a table needs no order); the rows are the same.
    conn, _, _ = fx_world
    _, from_frame = attribution
    unordered = conn.sql(attribution_sql(conn, ordered=False)).pl()
    assert unordered.height == from_frame.height > 0
    assert unordered.sort("payment_id", nulls_last=True).equals(from_frame)
