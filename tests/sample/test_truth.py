"""Ground truth agrees with the files: anomalies where recorded, legs, invoices, totals."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import UTC, date, datetime

from billing_pipeline.domain.money import to_minor
from billing_pipeline.sample.config import ANOMALY_KINDS


def _line(world, rel: str, n: int) -> str:
    return (world.inbox / rel).read_text(encoding="utf-8").splitlines()[n - 1]


def _csv_line(world, rel: str, n: int) -> dict[str, str]:
    lines = (world.inbox / rel).read_text(encoding="utf-8").splitlines()
    return next(csv.DictReader([lines[0], lines[n - 1]]))


def _log(world):
    """Every parseable event line in delivery order: (file, line, text, event)."""
    for path in world.files("events"):
        rel = path.relative_to(world.inbox).as_posix()
        for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            try:
                yield rel, n, text, json.loads(text)
            except json.JSONDecodeError:
                continue


def test_the_default_world_shows_every_anomaly_kind(default_world):
    assert set(default_world.summary.anomalies) == set(ANOMALY_KINDS)
    kinds = {a["kind"] for a in default_world.table("anomalies")}
    assert kinds == set(ANOMALY_KINDS)
    sources = {
        a["file"].split("/")[0]
        for a in default_world.table("anomalies")
        if a["kind"] == "malformed_row"
    }
    assert "events" in sources and sources & {"stripe", "adyen"}


def test_a_noisy_world_shows_every_malformation_variant(noisy_world):
    variants = {
        (a["file"].split("/")[0] == "events", a["detail"].split(":")[0])
        for a in noisy_world.table("anomalies")
        if a["kind"] == "malformed_row"
    }
    csv_variants = {"bad_date", "unknown_currency", "broken_quoting", "too_many_decimals"}
    event_variants = {"bad_date", "unknown_currency", "broken_json", "too_many_decimals"}
    assert {v for is_event, v in variants if not is_event} == csv_variants
    assert {v for is_event, v in variants if is_event} == event_variants


def test_event_anomalies_are_in_the_log_at_the_recorded_line(world):
    earlier: dict[str, str] = {}
    history: dict[str, list[str]] = defaultdict(list)
    recorded = {
        (a["file"], int(a["line"])): a
        for a in world.table("anomalies")
        if a["file"].startswith("events/")
    }
    found = set()
    for path in world.files("events"):
        rel = path.relative_to(world.inbox).as_posix()
        for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            anomaly = recorded.get((rel, n))
            try:
                event = json.loads(text)
            except json.JSONDecodeError:
                assert (
                    anomaly
                    and anomaly["kind"] == "malformed_row"
                    and "broken_json" in anomaly["detail"]
                )
                found.add((rel, n))
                continue
            event_id = event["event_id"]
            if anomaly is None:
                earlier.setdefault(event_id, text)
                if "payment_id" in event:
                    history[event["payment_id"]].append(event["type"])
                continue
            found.add((rel, n))
            kind = anomaly["kind"]
            if kind == "duplicate_event":
                assert earlier[event_id] == text and anomaly["reference"] == event_id
            elif kind == "conflicting_event":
                assert earlier[event_id] != text and anomaly["reference"] == event_id
            elif kind == "illegal_transition":
                assert history[event["payment_id"]][-1] in ("payment.failed", "payment.voided")
                assert event["type"] in ("payment.captured", "payment.refunded")
            elif kind == "malformed_row":
                variant = anomaly["detail"].split(":")[0]
                if variant == "bad_date":
                    assert "-32T25:61" in event["occurred_at"]
                elif variant == "unknown_currency":
                    assert event["currency"] == "ZZZ"
                else:
                    assert variant == "too_many_decimals" and not isinstance(
                        event["amount_minor"], int
                    )
            else:
                raise AssertionError(f"unexpected {kind} in the event log")
    assert found == set(recorded)


def test_processor_and_bank_anomalies_are_where_truth_says(world):
    known_refs = {e["processor_ref"] for _, _, _, e in _log(world) if "processor_ref" in e}
    captured_on = {
        e["processor_ref"]: datetime.fromisoformat(e["occurred_at"]).astimezone(UTC).date()
        for _, _, _, e in _log(world)
        if e.get("type") == "payment.captured"
    }
    payouts = {p["payout_ref"]: p for p in world.table("payouts")}
    leg2 = {r["entry_ref"]: r for r in world.table("leg2_payout_bank")}
    paid_refs = {r["payout_ref"] for r in leg2.values()}
    for a in world.table("anomalies"):
        kind, rel = a["kind"], a["file"]
        if kind == "orphan_settlement_line":
            row = _csv_line(world, rel, int(a["line"]))
            ref = row.get("charge_id") or row.get("Psp Reference")
            assert ref and ref not in known_refs
        elif kind == "late_settlement":
            row = _csv_line(world, rel, int(a["line"]))
            ref = row.get("charge_id") or row.get("Psp Reference")
            assert (date.fromisoformat(rel.split("/")[1]) - captured_on[ref]).days >= 4
        elif kind == "payout_missing_at_bank":
            assert payouts[a["reference"]]["bank_fate"] == "missing"
            assert a["reference"] not in paid_refs
            assert a["reference"] in _line(world, rel, int(a["line"])) or a["reference"].split(":")[
                1
            ] in _line(world, rel, int(a["line"]))
        elif kind == "bank_amount_off_by_fee":
            match = leg2[a["reference"]]
            assert int(match["bank_amount_minor"]) < int(match["payout_amount_minor"])
            assert match["file"] == rel and int(match["line"]) == int(a["line"])
        elif kind == "file_delivered_twice":
            assert (world.inbox / rel).read_bytes() == (world.inbox / a["reference"]).read_bytes()
            assert rel != a["reference"]
        elif kind == "malformed_row" and not rel.startswith("events/"):
            text = _line(world, rel, int(a["line"]))
            variant = a["detail"].split(":")[0]
            markers = {
                "bad_date": "-32 25:61:00",
                "unknown_currency": "zzz",
                "broken_quoting": '"unterminated',
            }
            if variant in markers:
                assert markers[variant] in text.lower()
            else:
                assert variant == "too_many_decimals" and any(
                    len(f.strip('"').split(".")[-1]) > 2
                    for f in text.split(",")
                    if "." in f and f.strip('"').replace(".", "").lstrip("-").isdigit()
                )
            if variant == "broken_quoting":
                assert int(a["line"]) == len((world.inbox / rel).read_text().splitlines())


def test_leg1_rows_point_at_settlement_lines_of_logged_payments(world):
    payments = {
        (e["payment_id"], e["processor_ref"])
        for _, _, _, e in _log(world)
        if e.get("type") == "payment.captured"
    }
    rows = world.table("leg1_ledger_processor")
    assert rows
    for r in rows:
        assert (r["payment_id"], r["processor_ref"]) in payments
        line = _line(world, r["file"], int(r["line"]))
        assert r["line_ref"] in line and r["processor_ref"] in line and r["payment_id"] in line


def test_leg2_covers_every_payout_that_reached_the_bank_exactly_once(world):
    arrived = {
        p["payout_ref"]: p
        for p in world.table("payouts")
        if p["bank_fate"] in ("arrived", "off_by_fee")
    }
    rows = world.table("leg2_payout_bank")
    assert sorted(r["payout_ref"] for r in rows) == sorted(arrived)
    for r in rows:
        assert int(r["payout_amount_minor"]) == int(arrived[r["payout_ref"]]["amount_minor"])
        text = (world.inbox / r["file"]).read_text(encoding="utf-8")
        assert r["entry_ref"] in text and r["bank_text"] in text
        if r["match_basis"] == "reference":
            assert (
                arrived[r["payout_ref"]]["bank_reference"] in r["bank_text"]
                or r["payout_ref"] in r["bank_text"]
                or r["payout_ref"].split(":")[0] in r["bank_text"]
            )


def test_invoices_are_never_paid_beyond_their_amount_except_recorded_overpayments(world):
    applied: dict[str, int] = defaultdict(int)
    unapplied: dict[str, int] = defaultdict(int)
    for r in world.table("leg3_bank_invoice"):
        applied[r["invoice_id"]] += int(r["amount_applied_minor"])
        unapplied[r["invoice_id"]] += int(r["unapplied_minor"])
        line = _line(world, r["file"], int(r["line"])) if r["file"].endswith(".sta") else None
        if line is not None:
            assert r["entry_ref"] in line
    invoices = world.table("invoices")
    assert {i["state"] for i in invoices} >= {"paid", "open"}
    for inv in invoices:
        amount, credited = int(inv["amount_minor"]), int(inv["credited_minor"])
        paid = int(inv["paid_card_minor"]) + int(inv["paid_bank_minor"])
        assert int(inv["paid_bank_minor"]) == applied[inv["invoice_id"]]
        assert paid <= amount - credited
        assert int(inv["overpaid_minor"]) == unapplied[inv["invoice_id"]]
        if inv["state"] == "paid":
            assert paid == amount - credited


def test_file_control_totals_count_the_rows_in_each_file(world):
    malformed = defaultdict(int)
    for file, _ in world.malformed_lines():
        malformed[file] += 1
    for f in world.table("files"):
        if f["duplicate_of"] or f["source"] == "bank":
            continue
        lines = (world.inbox / f["path"]).read_text(encoding="utf-8").splitlines()
        header = 0 if f["source"] == "events" else 1
        assert int(f["data_rows"]) == len(lines) - header
        assert int(f["malformed_rows"]) == malformed[f["path"]]
        assert int(f["valid_rows"]) + int(f["malformed_rows"]) == int(f["data_rows"])


def test_settlement_control_totals_equal_the_sum_of_well_formed_stripe_lines(world):
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    bad = world.malformed_lines()
    for path in world.files("stripe", "payout_reconciliation_itemized_*.csv"):
        rel = path.relative_to(world.inbox).as_posix()
        lines = path.read_text(encoding="utf-8").splitlines()
        for n in range(2, len(lines) + 1):
            if (rel, n) in bad:
                continue
            row = _csv_line(world, rel, n)
            ccy = row["currency"].upper()
            for k, column in enumerate(("gross", "fee", "net")):
                totals[ccy][k] += to_minor(row[column], ccy)
    control = {
        c["currency"]: [c["gross_minor"], c["fee_minor"], c["net_minor"]]
        for c in world.control()["settlement"]
        if c["processor"] == "stripe"
    }
    assert control == dict(totals)
