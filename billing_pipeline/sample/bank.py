"""Bank statements of one business day: one file per account, balances carried day to day.

A day's entries are the spooled credits (payouts, invoice transfers) plus the bank's own
noise (fees, rent, salaries, suppliers, interest). The spool is read twice, once for the
balances and counts that the formats put before the entries, once to render, so memory does
not grow with the number of entries. Each entry gets a unique bank reference and its truth.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date

from billing_pipeline.sample.bai2 import render_bai2
from billing_pipeline.sample.camt053 import render_camt053
from billing_pipeline.sample.clock import day_start, is_business_day
from billing_pipeline.sample.config import BANK_ACCOUNTS, BankAccount
from billing_pipeline.sample.context import World
from billing_pipeline.sample.mt940 import render_mt940
from billing_pipeline.sample.statement import Entry, Statement

RENDERERS = {
    "camt053": (render_camt053, "xml"),
    "mt940": (render_mt940, "sta"),
    "bai2": (render_bai2, "bai"),
}
REF_PREFIX = {"camt053": "CB", "mt940": "NW", "bai2": "9"}
# kind, probability on a business day, (low, high) major units per 400 payments/day, sign, text
_NOISE = (
    ("bank_fee", 0.5, (5, 45), -1, "ACCOUNT MAINTENANCE FEE"),
    ("rent", 0.1, (3_000, 6_000), -1, "OFFICE RENT"),
    ("salaries", 0.1, (8_000, 20_000), -1, "PAYROLL"),
    ("supplier", 0.4, (200, 2_500), -1, "SUPPLIER INVOICE"),
    ("interest", 0.05, (1, 40), 1, "CREDIT INTEREST"),
)


class BankBook:
    """Running balances, sequence numbers and totals per account across the world."""

    def __init__(self, world: World) -> None:
        self.scale = max(1, world.payments_per_day // 400)
        self.balance = {a.account_id: a.opening_balance_minor * self.scale for a in BANK_ACCOUNTS}
        self.sequence = dict.fromkeys(self.balance, 0)
        self.refs = dict.fromkeys(self.balance, 0)
        for a in BANK_ACCOUNTS:
            world.truth.bank_totals[a.account_id] = {
                "account_id": a.account_id,
                "currency": a.currency,
                "bank_format": a.bank_format,
                "opening_minor": self.balance[a.account_id],
                "closing_minor": self.balance[a.account_id],
                "credits_minor": 0,
                "debits_minor": 0,
                "entries": 0,
                "statements": 0,
            }


def _noise(world: World, scale: int, account: BankAccount, day: date) -> list[dict]:
    found = []
    for kind, probability, (low, high), sign, text in _NOISE:
        if world.rng.random() < probability:
            amount = world.rng.randint(low * 100, high * 100) * scale
            found.append(
                {
                    "kind": kind,
                    "amount": sign * amount,
                    "e2e": "NOTPROVIDED",
                    "counterparty": f"{kind.upper()} COUNTERPARTY",
                    "text": f"{text} {day:%b %Y}".upper(),
                }
            )
    return found


def _entries(world: World, channel: str, day: date, noise: list[dict], refs) -> Iterator[Entry]:
    for raw in world.spool.read(day, channel):
        payload = json.loads(raw)
        yield Entry(
            next(refs),
            payload["amount"],
            payload["kind"],
            payload["e2e"],
            payload["counterparty"],
            payload["text"],
            payload,
        )
    for payload in noise:
        yield Entry(
            next(refs),
            payload["amount"],
            payload["kind"],
            payload["e2e"],
            payload["counterparty"],
            payload["text"],
            payload,
        )


def write_bank_day(world: World, book: BankBook, day: date) -> None:
    if not is_business_day(day):
        return
    for account in BANK_ACCOUNTS:
        _write_account(world, book, account, day)


def _write_account(world: World, book: BankBook, account: BankAccount, day: date) -> None:
    acct = account.account_id
    channel = f"bank:{acct}"
    noise = _noise(world, book.scale, account, day)
    credits = debits = n_credits = n_debits = 0
    for raw in world.spool.read(day, channel):
        amount = json.loads(raw)["amount"]
        credits, n_credits = (
            (credits + amount, n_credits + 1) if amount >= 0 else (credits, n_credits)
        )
        debits, n_debits = (debits - amount, n_debits + 1) if amount < 0 else (debits, n_debits)
    for payload in noise:
        amount = payload["amount"]
        credits, n_credits = (
            (credits + amount, n_credits + 1) if amount >= 0 else (credits, n_credits)
        )
        debits, n_debits = (debits - amount, n_debits + 1) if amount < 0 else (debits, n_debits)
    book.sequence[acct] += 1
    opening = book.balance[acct]
    closing = opening + credits - debits
    book.balance[acct] = closing
    statement = Statement(
        account,
        day,
        book.sequence[acct],
        f"{REF_PREFIX[account.bank_format]}{day:%Y%m%d}{book.sequence[acct]:04d}",
        day_start(day) + 20 * 3600,
        opening,
        closing,
        credits,
        debits,
        n_credits,
        n_debits,
    )
    render, extension = RENDERERS[account.bank_format]
    path = world.out_path(
        "bank", day, f"{account.bank_format}_{account.currency}_{day:%Y%m%d}.{extension}"
    )
    rel = world.rel(path)

    def refs():
        while True:
            book.refs[acct] += 1
            yield f"{REF_PREFIX[account.bank_format]}{day:%y%m%d}{book.refs[acct]:08d}"

    def record(e: Entry, line: int) -> None:
        _truth_of_entry(world, account, day, rel, e, line)

    with path.open("w", encoding="utf-8", newline="\n") as out:
        render(out, statement, _entries(world, channel, day, noise, refs()), record)
    totals = world.truth.bank_totals[acct]
    totals["closing_minor"] = closing
    totals["credits_minor"] += credits
    totals["debits_minor"] += debits
    totals["entries"] += n_credits + n_debits
    totals["statements"] += 1
    world.truth.row("files", rel, "bank", n_credits + n_debits, n_credits + n_debits, 0, "")
    world.files_written.append(rel)


def _truth_of_entry(
    world: World, account: BankAccount, day: date, rel: str, e: Entry, line: int
) -> None:
    truth, p = world.truth, e.payload
    reference = ""
    if e.kind == "payout":
        reference = p["payout_ref"]
        truth.row(
            "leg2_payout_bank",
            p["processor"],
            p["payout_ref"],
            p["payout_amount"],
            account.currency,
            account.account_id,
            e.entry_ref,
            e.amount,
            day,
            p["basis"],
            e.text,
            rel,
            line,
        )
        if p["anomaly"]:
            truth.anomaly(
                p["anomaly"], e.entry_ref, rel, line, f"payout {p['payout_ref']}: {p['detail']}"
            )
    elif e.kind == "invoice_payment":
        reference = " ".join(a[1] for a in p["allocations"])
        for k, (invoice_id, number, applied) in enumerate(p["allocations"]):
            truth.row(
                "leg3_bank_invoice",
                e.entry_ref,
                account.account_id,
                invoice_id,
                number,
                applied,
                account.currency,
                p["unapplied"] if k == 0 else 0,
                p["basis"],
                p["form"],
                rel,
                line,
            )
    truth.row(
        "bank_entries",
        account.account_id,
        account.bank_format,
        day,
        e.entry_ref,
        e.amount,
        account.currency,
        e.kind,
        reference,
        rel,
        line,
    )
