"""Worlds generated once per test session: a small one, and the documented default."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from billing_pipeline.sample import DEFAULT_WORLD, AnomalyRates, WorldSummary, generate_world


@dataclass(frozen=True)
class Generated:
    inbox: Path
    truth: Path
    summary: WorldSummary

    def table(self, name: str) -> list[dict[str, str]]:
        with (self.truth / f"{name}.csv").open(encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))

    def control(self) -> dict:
        return json.loads((self.truth / "control_totals.json").read_text(encoding="utf-8"))

    def files(self, source: str, pattern: str = "*", copies: bool = False) -> list[Path]:
        """Files of a source; redelivered copies (recorded in truth) only when asked."""
        skip = set() if copies else {f["path"] for f in self.table("files") if f["duplicate_of"]}
        return sorted(
            p
            for p in (self.inbox / source).glob(f"*/{pattern}")
            if p.relative_to(self.inbox).as_posix() not in skip
        )

    def anomaly_lines(self, *kinds: str) -> set[tuple[str, int]]:
        """(file, line) of recorded anomalies of these kinds (all kinds if none given)."""
        return {
            (a["file"], int(a["line"]))
            for a in self.table("anomalies")
            if a["line"] and (not kinds or a["kind"] in kinds)
        }

    def malformed_lines(self) -> set[tuple[str, int]]:
        return self.anomaly_lines("malformed_row")


SMALL = {"start": date(2026, 10, 6), "end": date(2026, 10, 8), "payments_per_day": 50, "seed": 11}


@pytest.fixture(scope="session")
def small_world(tmp_path_factory) -> Generated:
    root = tmp_path_factory.mktemp("small")
    summary = generate_world(root / "inbox", root / "truth", **SMALL)
    return Generated(root / "inbox", root / "truth", summary)


@pytest.fixture(scope="session")
def default_world(tmp_path_factory) -> Generated:
    root = tmp_path_factory.mktemp("default")
    d = DEFAULT_WORLD
    summary = generate_world(root / "inbox", None, d.start, d.end, d.payments_per_day, d.seed)
    return Generated(root / "inbox", root / "truth", summary)


@pytest.fixture(scope="session")
def noisy_world(tmp_path_factory) -> Generated:
    """Many anomalies of every kind, so that each variant shows up in a small world."""
    root = tmp_path_factory.mktemp("noisy")
    rates = AnomalyRates(
        payout_missing_at_bank=0.2, bank_amount_off_by_fee=0.2, duplicate_event=0.05,
        conflicting_event=0.05, illegal_transition=0.3, orphan_settlement_line=0.02,
        late_settlement=0.05, malformed_row=0.06, file_delivered_twice=0.2,
    )  # fmt: skip
    summary = generate_world(root / "inbox", None, date(2026, 10, 1), date(2026, 10, 7), 60, 23,
                             anomaly_rates=rates)  # fmt: skip
    return Generated(root / "inbox", root / "truth", summary)


@pytest.fixture(params=["small_world", "default_world", "noisy_world"])
def world(request) -> Generated:
    return request.getfixturevalue(request.param)
