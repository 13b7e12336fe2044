"""Ground truth of the sample world, written beside the inbox while the files are written.

Every table is a CSV streamed row by row (memory stays flat); the aggregate control totals
are small counters dumped to JSON at the end. The layout is documented in README.md.
"""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

TABLES: dict[str, tuple[str, ...]] = {
    "leg1_ledger_processor": (
        "payment_id",
        "processor",
        "processor_ref",
        "line_ref",
        "line_type",
        "amount_minor",
        "currency",
        "settlement_gross_minor",
        "settlement_fee_minor",
        "settlement_net_minor",
        "settlement_currency",
        "payout_ref",
        "file",
        "line",
    ),
    "leg2_payout_bank": (
        "processor",
        "payout_ref",
        "payout_amount_minor",
        "currency",
        "account_id",
        "entry_ref",
        "bank_amount_minor",
        "booking_date",
        "match_basis",
        "bank_text",
        "file",
        "line",
    ),
    "leg3_bank_invoice": (
        "entry_ref",
        "account_id",
        "invoice_id",
        "invoice_number",
        "amount_applied_minor",
        "currency",
        "unapplied_minor",
        "match_basis",
        "remittance_form",
        "file",
        "line",
    ),
    "anomalies": ("kind", "reference", "file", "line", "detail"),
    "files": ("path", "source", "data_rows", "valid_rows", "malformed_rows", "duplicate_of"),
    "invoices": (
        "invoice_id",
        "invoice_number",
        "customer_id",
        "currency",
        "amount_minor",
        "credited_minor",
        "paid_card_minor",
        "paid_bank_minor",
        "overpaid_minor",
        "state",
        "created_date",
        "sent_date",
        "due_date",
        "outcome",
    ),
    "payouts": (
        "processor",
        "payout_ref",
        "bank_reference",
        "currency",
        "amount_minor",
        "lines",
        "payout_date",
        "arrival_date",
        "bank_fate",
        "file",
        "line",
    ),
    "bank_entries": (
        "account_id",
        "bank_format",
        "booking_date",
        "entry_ref",
        "amount_minor",
        "currency",
        "kind",
        "reference",
        "file",
        "line",
    ),
    "rates": ("date", "base_currency", "quote_currency", "rate", "source"),
}


class Truth:
    def __init__(self, truth_dir: Path) -> None:
        truth_dir.mkdir(parents=True, exist_ok=True)
        self.dir = truth_dir
        self._files = {}
        self._writers = {}
        for name, header in TABLES.items():
            f = (truth_dir / f"{name}.csv").open("w", encoding="utf-8", newline="")
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(header)
            self._files[name], self._writers[name] = f, writer
        self.anomaly_counts: Counter[str] = Counter()
        self.row_counts: Counter[str] = Counter()
        # (processor, currency) -> [gross, fee, net, lines] over well-formed settlement rows.
        self.settlement_totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        self.bank_totals: dict[str, dict[str, Any]] = {}
        self.event_counts: Counter[str] = Counter()
        self.event_line_counts: Counter[str] = Counter()

    def row(self, table: str, *values: object) -> None:
        self._writers[table].writerow(["" if v is None else v for v in values])
        self.row_counts[table] += 1

    def anomaly(self, kind: str, reference: str, file: str, line: int | None, detail: str) -> None:
        self.row("anomalies", kind, reference, file, line, detail)
        self.anomaly_counts[kind] += 1

    def settlement(self, processor: str, currency: str, gross: int, fee: int, net: int) -> None:
        totals = self.settlement_totals[(processor, currency)]
        totals[0] += gross
        totals[1] += fee
        totals[2] += net
        totals[3] += 1

    def close(self, extra: dict[str, Any]) -> None:
        for f in self._files.values():
            f.close()
        control = {
            "settlement": [
                {
                    "processor": p,
                    "currency": c,
                    "gross_minor": t[0],
                    "fee_minor": t[1],
                    "net_minor": t[2],
                    "lines": t[3],
                }
                for (p, c), t in sorted(self.settlement_totals.items())
            ],
            "bank_accounts": [self.bank_totals[k] for k in sorted(self.bank_totals)],
            "events": {
                "well_formed_by_type": dict(sorted(self.event_counts.items())),
                "lines_by_class": dict(sorted(self.event_line_counts.items())),
            },
            "anomalies": dict(sorted(self.anomaly_counts.items())),
            **extra,
        }
        text = json.dumps(control, indent=2, sort_keys=True) + "\n"
        (self.dir / "control_totals.json").write_text(text, encoding="utf-8")
