"""Stripe reports of one payout day: stripe/<date>/.

* `payout_reconciliation_itemized_<date>.csv`: the balance transactions paid out that day,
  one payout per settlement currency (columns in Stripe's itemized payout-reconciliation
  naming, amounts in major units, currency lower-case, non-empty fields quoted).
* `payouts_itemized_<date>.csv`: one row per payout.

A payout's amount is the sum of its well-formed rows' `net` exactly. Malformed rows are extra
rows (fresh ids) that a parser must reject; they never carry money of a real payout.
"""

from __future__ import annotations

from datetime import date

from billing_pipeline.domain.money import format_minor
from billing_pipeline.sample.anomalies import MALFORMED_CSV
from billing_pipeline.sample.clock import day_start, utc_text
from billing_pipeline.sample.context import World
from billing_pipeline.sample.csvrows import bad_date, stripe_row, too_many_decimals
from billing_pipeline.sample.layouts import PAYOUTS_HEADER, RECONCILIATION_HEADER
from billing_pipeline.sample.payouts import arrival_day, send_payout
from billing_pipeline.sample.settlement import Fact, make_fact


def _row(f: Fact, day_text: str, payout_id: str) -> list[str]:
    cur = f.currency
    return [
        f.line_ref,
        utc_text(f.created),
        day_text,
        cur.lower(),
        format_minor(f.gross, cur),
        format_minor(f.fee, cur),
        format_minor(f.net, cur),
        f.line_type,
        f.source_id,
        f.description,
        format_minor(f.charge_minor, f.charge_currency) if f.charge_currency else "",
        f.charge_currency.lower(),
        payout_id,
        day_text,
        f.processor_ref,
        f.intent_id,
        f.payment_id,
    ]


def _malformed(world: World, f: Fact, day_text: str, payout_id: str) -> tuple[str, str, str]:
    """(row text, variant, detail) of a broken row derived from a real one."""
    variant = world.plan.malformed_variant(MALFORMED_CSV)
    values = _row(f, day_text, payout_id)
    values[0] = world.ids.stripe_txn.next()
    if variant == "bad_date":
        values[1] = bad_date(day_text)
        return stripe_row(values), variant, f"created_utc {values[1]!r} is not a date"
    if variant == "unknown_currency":
        values[3] = "zzz"
        return stripe_row(values), variant, "currency 'zzz' is not ISO 4217"
    if variant == "too_many_decimals":
        values[4] = too_many_decimals(f.gross, f.currency)
        return stripe_row(values), variant, f"gross {values[4]!r} has too many decimals"
    # One opening quote too many: the quoted field never closes before the end of the file.
    head = stripe_row(values[:9]).rstrip("\n")
    tail = stripe_row(values[10:]).rstrip("\n")
    return f'{head},"unterminated description,{tail}\n', variant, "unterminated quote"


def _orphan(world: World, currency: str, day: date) -> Fact:
    created = day_start(day) - 86_400 + world.rng.randrange(86_400)
    charge = world.ids.stripe_charge.next()
    return make_fact(
        world,
        "stripe",
        "charge",
        "",
        charge,
        "",
        created,
        currency,
        world.rng.randrange(1000, 50_000),
        charge,
        "",
        "orphan_settlement_line",
        "charge unknown to the billing event log",
    )


def _radar_fee(world: World, currency: str, day: date, screened: int) -> Fact:
    """The day's fraud-screening fee: a balance line of its own, not tied to a payment."""
    amount = 5 * max(1, screened)
    return Fact(
        "fee",
        "",
        "",
        world.ids.stripe_txn.next(),
        world.ids.stripe_fee.next(),
        "",
        day_start(day) - 3600,
        "",
        0,
        currency,
        "1",
        -amount,
        (0, 0, 0, 0),
        f"Radar screening fees ({screened} transactions)",
        "",
        "",
    )


def write_stripe_day(world: World, day: date) -> None:
    channels = world.spool.channels(day, "set:stripe:")
    if not channels:
        return
    day_text = f"{day.isoformat()} 00:00:00"
    recon = world.out_path("stripe", day, f"payout_reconciliation_itemized_{day}.csv")
    payouts_path = world.out_path("stripe", day, f"payouts_itemized_{day}.csv")
    recon_rel, payouts_rel = world.rel(recon), world.rel(payouts_path)
    truth, plan = world.truth, world.plan
    payouts = []
    counts = [0, 0]  # valid, malformed
    with recon.open("w", encoding="utf-8", newline="") as out:
        out.write(stripe_row(list(RECONCILIATION_HEADER)))
        line = 1
        deferred: list[tuple[str, str, str]] = []
        for channel in channels:
            currency = channel.rsplit(":", 1)[1]
            payout_id = world.ids.stripe_payout.next()
            net_total, lines = 0, 0
            for record in world.spool.read(day, channel):
                f = Fact.from_line(record)
                facts = [f]
                if plan.hit("orphan_settlement_line"):
                    facts.append(_orphan(world, currency, day))
                for fact in facts:
                    if plan.hit("malformed_row", force_key="malformed_row:csv"):
                        text, variant, detail = _malformed(world, fact, day_text, payout_id)
                        if variant == "broken_quoting":
                            deferred.append((text, variant, detail))
                        else:
                            out.write(text)
                            line += 1
                            counts[1] += 1
                            truth.anomaly(
                                "malformed_row",
                                text.split(",")[0].strip('"'),
                                recon_rel,
                                line,
                                f"{variant}: {detail}",
                            )
                    out.write(stripe_row(_row(fact, day_text, payout_id)))
                    line += 1
                    counts[0] += 1
                    net_total += fact.net
                    lines += 1
                    truth.settlement("stripe", currency, fact.gross, fact.fee, fact.net)
                    if fact.anomaly:
                        truth.anomaly(fact.anomaly, fact.line_ref, recon_rel, line, fact.detail)
                    if fact.payment_id:
                        truth.row(
                            "leg1_ledger_processor",
                            fact.payment_id,
                            "stripe",
                            fact.processor_ref,
                            fact.line_ref,
                            fact.line_type,
                            fact.charge_minor,
                            fact.charge_currency,
                            fact.gross,
                            fact.fee,
                            fact.net,
                            currency,
                            payout_id,
                            recon_rel,
                            line,
                        )
            fee = _radar_fee(world, currency, day, lines)
            out.write(stripe_row(_row(fee, day_text, payout_id)))
            line += 1
            counts[0] += 1
            net_total += fee.net
            lines += 1
            truth.settlement("stripe", currency, fee.gross, fee.fee, fee.net)
            payouts.append((payout_id, currency, net_total, lines))
        for text, variant, detail in deferred[:1]:
            out.write(text)
            line += 1
            counts[1] += 1
            truth.anomaly(
                "malformed_row",
                text.split(",")[0].strip('"'),
                recon_rel,
                line,
                f"{variant}: {detail} (last line of the file)",
            )
    truth.row("files", recon_rel, "stripe", sum(counts), counts[0], counts[1], "")
    _write_payouts(world, day, payouts_path, payouts_rel, payouts, day_text)
    world.files_written += [recon_rel, payouts_rel]


def _write_payouts(world: World, day: date, path, rel: str, payouts, day_text: str) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(stripe_row(list(PAYOUTS_HEADER)))
        line = 1
        for payout_id, currency, amount, lines in payouts:
            arrival = arrival_day(world, day)
            trace = "STRIPE-" + world.ids.stripe_trace.next()
            bank_text = f"STRIPE PAYOUT {trace if world.rng.random() < 0.5 else payout_id}"
            amount_text = format_minor(amount, currency)
            status = "paid" if arrival <= day else "in_transit"
            out.write(
                stripe_row(
                    [
                        payout_id,
                        day_text,
                        currency.lower(),
                        amount_text,
                        format_minor(0, currency),
                        amount_text,
                        "payout",
                        world.ids.stripe_txn.next(),
                        "STRIPE PAYOUT",
                        arrival.isoformat(),
                        status,
                        trace,
                        "supported",
                    ]
                )
            )
            line += 1
            send_payout(
                world,
                "stripe",
                payout_id,
                currency,
                amount,
                day,
                bank_text,
                rel,
                line,
                lines,
                arrival,
            )
    world.truth.row("files", rel, "stripe", len(payouts), len(payouts), 0, "")
