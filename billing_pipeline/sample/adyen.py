"""Adyen settlement details reports: adyen/<date>/settlement_detail_report_batch_<N>.csv.

One file per merchant account per day (one payable batch a day), in the 49-column layout:
transaction rows (Settled, Refunded, Chargeback, ChargebackReversed), a Fee row, then the
MerchantPayout row whose Net Debit is the payout, i.e. exactly the sum of the batch's other
well-formed rows (credits minus debits) in the net currency. Minimal CSV quoting.
"""

from __future__ import annotations

from datetime import date

from billing_pipeline.domain.money import format_minor, to_minor
from billing_pipeline.sample.anomalies import MALFORMED_CSV
from billing_pipeline.sample.clock import central_european, day_start
from billing_pipeline.sample.config import ADYEN_COMPANY, ADYEN_MERCHANT_ACCOUNTS
from billing_pipeline.sample.context import World
from billing_pipeline.sample.csvrows import bad_date, minimal_row, too_many_decimals
from billing_pipeline.sample.layouts import ADYEN_HEADER as HEADER
from billing_pipeline.sample.payouts import arrival_day, send_payout
from billing_pipeline.sample.settlement import Fact, make_fact

TYPES = {
    "charge": "Settled",
    "refund": "Refunded",
    "dispute": "Chargeback",
    "dispute_reversal": "ChargebackReversed",
}
COUNTRY = {"USD": "US", "EUR": "DE", "GBP": "GB", "JPY": "JP", "KWD": "KW"}
# Disjoint batch-number ranges per merchant account keep file names unique within a day.
FIRST_BATCH = {"EUR": 1001, "GBP": 4001, "USD": 7001}


def _fee_text(minor: int, currency: str) -> str:
    """Fee components as Adyen writes them: empty when zero, no trailing zeros ('7.5')."""
    if not minor:
        return ""
    text = format_minor(minor, currency)
    return text.rstrip("0").rstrip(".") if "." in text else text


def _split(amount: int, currency: str) -> tuple[str, str]:
    """(debit, credit) columns: the unused side is empty."""
    text = format_minor(abs(amount), currency)
    return (text, "") if amount < 0 else ("", text)


def _row(world: World, account: str, batch: int, f: Fact, day: date) -> list[str]:
    local, zone = central_european(f.created)
    booking, booking_zone = central_european(day_start(day) + 3 * 3600)
    card = ("visa", "visaclassic") if int(f.processor_ref[-1]) % 2 else ("mc", "mccredit")
    gross_debit, gross_credit = _split(f.charge_minor, f.charge_currency)
    net_debit, net_credit = _split(f.net, f.currency)
    row = [""] * len(HEADER)
    row[0:23] = [
        ADYEN_COMPANY,
        account,
        f.processor_ref,
        f.payment_id,
        card[0],
        local,
        zone,
        TYPES[f.line_type],
        f.line_ref,
        f.charge_currency,
        gross_debit,
        gross_credit,
        f.rate,
        f.currency,
        net_debit,
        net_credit,
        *(_fee_text(x, f.currency) for x in f.fees),
        card[1],
        "",
        str(batch),
    ]
    row[30], row[31] = booking, booking_zone
    row[41] = COUNTRY[f.charge_currency]
    if f.line_type in ("dispute", "dispute_reversal"):
        row[44] = f.source_id
    if f.line_type == "charge":
        row[47] = f"{int(f.processor_ref[-6:]) * 7919 % 1_000_000:06d}"
    return row


def _batch_row(
    account: str, batch: int, kind: str, reference: str, amount: int, currency: str, instant: int
) -> list[str]:
    local, zone = central_european(instant)
    net_debit, net_credit = _split(amount, currency)
    row = [""] * len(HEADER)
    row[0:23] = [
        ADYEN_COMPANY,
        account,
        "",
        "",
        "",
        local,
        zone,
        kind,
        reference,
        "",
        "",
        "",
        "",
        currency,
        net_debit,
        net_credit,
        "",
        "",
        "",
        "",
        "",
        "",
        str(batch),
    ]
    row[30], row[31] = local, zone
    return row


def _malformed(world: World, row: list[str]) -> tuple[str, str, str]:
    variant = world.plan.malformed_variant(MALFORMED_CSV)
    bad = list(row)
    bad[8] = world.ids.adyen_modification.next()
    if variant == "bad_date":
        bad[5] = bad_date(bad[5])
        return minimal_row(bad), variant, f"Creation Date {bad[5]!r} is not a date"
    if variant == "unknown_currency":
        bad[9] = "ZZZ"
        return minimal_row(bad), variant, "Gross Currency 'ZZZ' is not ISO 4217"
    if variant == "too_many_decimals":
        column = 11 if bad[11] else 10
        bad[column] = too_many_decimals(to_minor(bad[column], bad[9]), bad[9])
        return minimal_row(bad), variant, f"gross {bad[column]!r} has too many decimals"
    text = minimal_row(bad[:3]).rstrip("\n") + ',"unterminated,' + minimal_row(bad[4:])
    return text, variant, "unterminated quote"


def write_adyen_day(world: World, day: date) -> None:
    for channel in world.spool.channels(day, "set:adyen:"):
        currency = channel.rsplit(":", 1)[1]
        _write_batch(world, day, channel, currency)


def _write_batch(world: World, day: date, channel: str, currency: str) -> None:
    account = ADYEN_MERCHANT_ACCOUNTS[currency]
    batch = FIRST_BATCH[currency] + (day - world.start).days
    path = world.out_path("adyen", day, f"settlement_detail_report_batch_{batch}.csv")
    rel, truth, plan = world.rel(path), world.truth, world.plan
    payout_ref = f"{account}:{batch}"
    total, lines, line, valid, malformed = 0, 0, 1, 0, 0
    deferred = []
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(HEADER) + "\n")
        for record in world.spool.read(day, channel):
            facts = [Fact.from_line(record)]
            if plan.hit("orphan_settlement_line"):
                created = day_start(day) - 86_400 + world.rng.randrange(86_400)
                facts.append(
                    make_fact(
                        world,
                        "adyen",
                        "charge",
                        "",
                        world.ids.adyen_psp.next(),
                        "",
                        created,
                        currency,
                        world.rng.randrange(1000, 50_000),
                        anomaly="orphan_settlement_line",
                        detail="Psp Reference unknown to the billing event log",
                    )
                )
            for f in facts:
                row = _row(world, account, batch, f, day)
                if plan.hit("malformed_row", force_key="malformed_row:csv"):
                    text, variant, detail = _malformed(world, row)
                    if variant == "broken_quoting":
                        deferred.append((text, variant, detail))
                    else:
                        out.write(text)
                        line += 1
                        malformed += 1
                        truth.anomaly(
                            "malformed_row", text.split(",")[8], rel, line, f"{variant}: {detail}"
                        )
                out.write(minimal_row(row))
                line += 1
                valid += 1
                total += f.net
                lines += 1
                truth.settlement("adyen", currency, f.gross, f.fee, f.net)
                if f.anomaly:
                    truth.anomaly(f.anomaly, f.line_ref, rel, line, f.detail)
                if f.payment_id:
                    truth.row(
                        "leg1_ledger_processor",
                        f.payment_id,
                        "adyen",
                        f.processor_ref,
                        f.line_ref,
                        f.line_type,
                        f.charge_minor,
                        f.charge_currency,
                        f.gross,
                        f.fee,
                        f.net,
                        currency,
                        payout_ref,
                        rel,
                        line,
                    )
        fee = 2 * max(1, lines)
        month = f"{day:%B %Y}"
        out.write(
            minimal_row(
                _batch_row(
                    account,
                    batch,
                    "Fee",
                    f"Transaction Fees {month}",
                    -fee,
                    currency,
                    day_start(day) + 4 * 3600,
                )
            )
        )
        line += 1
        valid += 1
        total -= fee
        truth.settlement("adyen", currency, 0, fee, -fee)
        payout_line = 0
        if total:
            tx = world.ids.adyen_payout.next()[:10]
            reference = f"TX{tx}XT batch {batch}, {account}"
            out.write(
                minimal_row(
                    _batch_row(
                        account,
                        batch,
                        "MerchantPayout",
                        reference,
                        -total,
                        currency,
                        day_start(day) + 5 * 3600,
                    )
                )
            )
            line += 1
            valid += 1
            payout_line = line
        for text, variant, detail in deferred[:1]:
            out.write(text)
            line += 1
            malformed += 1
            truth.anomaly(
                "malformed_row", "", rel, line, f"{variant}: {detail} (last line of the file)"
            )
    truth.row("files", rel, "adyen", valid + malformed, valid, malformed, "")
    world.files_written.append(rel)
    if total:
        send_payout(
            world,
            "adyen",
            payout_ref,
            currency,
            total,
            day,
            reference,
            rel,
            payout_line,
            lines + 1,
            arrival_day(world, day),
        )
