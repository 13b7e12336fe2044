"""Small hand-made event stores for reconciliation tests (import as `tests.recon.builders`)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import duckdb

from billing_pipeline.recon import RuleSet, reconcile
from billing_pipeline.recon.store import TABLES
from billing_pipeline.warehouse.event_store import ensure_store

RULES_PATH = "config/recon_rules.yml"


class Store:
    """Appends events straight into `store.events`, as the event store step would."""

    def __init__(self) -> None:
        self.conn = duckdb.connect()
        ensure_store(self.conn)
        self.seq = 0

    def add(
        self,
        key: str,
        event_type: str,
        day: date,
        payload: dict,
        aggregate: str = "x",
        source: str = "test",
    ) -> str:
        self.seq += 1
        at = datetime(day.year, day.month, day.day, 12) + timedelta(seconds=self.seq)
        self.conn.execute(
            "insert into store.events values (?, ?, ?, ?::timestamp at time zone 'UTC', ?, ?, ?,"
            " ?, 'h', 'p', 'c', ?, 'f', ?, ?, now(), 'r')",
            [
                self.seq,
                key,
                event_type,
                at,
                day,
                aggregate,
                payload.get("payment_id"),
                json.dumps(payload, sort_keys=True),
                source,
                self.seq,
                day,
            ],
        )
        return key

    def payment(
        self,
        pid: str,
        ref: str,
        day: date,
        amount: int,
        currency: str = "EUR",
        processor: str = "stripe",
        invoice_id: str | None = None,
        kinds: tuple[str, ...] = ("created", "authorized", "captured"),
    ) -> dict[str, str]:
        keys = {}
        for kind in kinds:
            body = {
                "payment_id": pid,
                "processor": processor,
                "processor_ref": ref,
                "amount_minor": amount,
                "currency": currency,
                "invoice_id": invoice_id,
                "type": f"payment.{kind}",
            }
            keys[kind] = self.add(f"evt_{pid}_{kind}", f"payment.{kind}", day, body, "payment")
        return keys

    def line(
        self,
        ref: str,
        line_type: str,
        day: date,
        original: int,
        currency: str = "EUR",
        processor: str = "stripe",
        payout: str | None = None,
        fee: int = 0,
        settlement_currency: str | None = None,
        gross: int | None = None,
        line_ref: str | None = None,
    ) -> str:
        line_ref = line_ref or f"txn_{ref}_{line_type}"
        gross = original if gross is None else gross
        body = {
            "processor": processor,
            "line_ref": line_ref,
            "line_type": line_type,
            "processor_ref": ref,
            "payout_ref": payout,
            "available_on": str(day),
            "currency": settlement_currency or currency,
            "gross_minor": gross,
            "fee_minor": fee,
            "net_minor": gross - fee,
            "original_currency": currency,
            "original_minor": original,
        }
        return self.add(
            f"{processor}:line:{line_ref}", f"settlement.{line_type}", day, body, "settlement"
        )

    def payout(
        self,
        ref: str,
        day: date,
        amount: int,
        currency: str = "EUR",
        processor: str = "stripe",
        bank_reference: str | None = None,
        arrival: date | None = None,
    ) -> str:
        body = {
            "processor": processor,
            "payout_ref": ref,
            "bank_reference": bank_reference or ref,
            "arrival_date": str(arrival) if arrival else None,
            "currency": currency,
            "amount_minor": amount,
        }
        return self.add(f"{processor}:payout:{ref}", "payout.sent", day, body, "payout")

    def bank(
        self,
        ref: str,
        day: date,
        amount: int,
        text: str,
        currency: str = "EUR",
        account: str = "DE89",
        counterparty: str | None = None,
    ) -> str:
        body = {
            "account_id": account,
            "entry_ref": ref,
            "booking_date": str(day),
            "currency": currency,
            "amount_minor": amount,
            "remittance_info": text,
            "counterparty": counterparty,
        }
        kind = "bank.credit" if amount >= 0 else "bank.debit"
        return self.add(f"bank:{account}:ref:{ref}:1", kind, day, body, "bank_account")

    def invoice(
        self,
        inv: str,
        number: str,
        day: date,
        amount: int,
        currency: str = "EUR",
        customer: str = "cust_1",
        extra: tuple[tuple[str, int], ...] = (),
    ) -> str:
        for kind, value in (("created", amount), ("sent", amount), *extra):
            body = {
                "invoice_id": inv,
                "invoice_number": number,
                "customer_id": customer,
                "amount_minor": value,
                "currency": currency,
                "due_date": str(day),
            }
            self.add(f"evt_{inv}_{kind}", f"invoice.{kind}", day, body, "invoice")
        return inv

    def rows(self, sql: str, params=None) -> list[tuple]:
        return self.conn.execute(sql, params).fetchall()


def run_output(store: Store, table: str) -> list[tuple]:
    """A run's `recon_out_<table>` without what differs between two runs of the same inputs:
    the run id, and the order slices were written in."""
    drop = "run_id, write_no" if table == "run_marks" else "run_id"
    return store.rows(f"select * exclude ({drop}) from recon_out_{table} order by all")


def from_scratch(s: Store, as_of: date, rules: RuleSet, **options) -> dict[str, list[tuple]]:
    """What the run wrote, against the same run with no run marks (nothing carried)."""
    written = {t: run_output(s, t) for t in TABLES}
    # The stored slice is the run's, however its spans were written (match_spans).
    stored = "select * exclude (run_id) from recon_store.matches where as_of = ? order by all"
    assert s.rows(stored, [as_of]) == written["matches"]
    s.conn.execute("create or replace temp table marks as from recon_store.run_marks")
    s.conn.execute("delete from recon_store.run_marks")
    reconcile(s.conn, as_of, rules, "scratch", write=False, **options)
    s.conn.execute("insert into recon_store.run_marks from marks")
    again = {t: run_output(s, t) for t in TABLES}
    assert again == written
    return written
