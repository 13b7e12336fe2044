"""generate_world: the day loop that ties the simulators and writers together.

For each day: draw the day's invoices and payments (spooling their futures), then write the
day's event log, processor reports, bank statements and rates from the spool. Deterministic:
every random draw comes from generators seeded by (seed, day, purpose), ids are seeded
bijections, and nothing depends on the wall clock, hash seeds or dict/set order.
"""

from __future__ import annotations

import random
import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from billing_pipeline.sample.adyen import write_adyen_day
from billing_pipeline.sample.anomalies import AnomalyPlan
from billing_pipeline.sample.bank import BankBook, write_bank_day
from billing_pipeline.sample.clock import days
from billing_pipeline.sample.config import AnomalyRates
from billing_pipeline.sample.context import World
from billing_pipeline.sample.events import write_events_day
from billing_pipeline.sample.fx import RateBook
from billing_pipeline.sample.ids import Ids
from billing_pipeline.sample.invoices import simulate_invoices
from billing_pipeline.sample.payments import simulate_payments
from billing_pipeline.sample.rates_file import write_rates_day
from billing_pipeline.sample.spool import Spool
from billing_pipeline.sample.stripe import write_stripe_day
from billing_pipeline.sample.truth import Truth


@dataclass(frozen=True)
class WorldSummary:
    inbox: Path
    truth_dir: Path
    days: int
    payments: int  # one-off card sales drawn (invoice card payments come on top)
    invoices: int
    files: dict[str, int] = field(default_factory=dict)  # source -> files written
    rows: dict[str, int] = field(default_factory=dict)  # truth table -> rows
    anomalies: dict[str, int] = field(default_factory=dict)  # kind -> injected


def invoices_per_day(payments_per_day: int) -> int:
    return max(2, payments_per_day // 10)


def generate_world(
    inbox: Path,
    truth_dir: Path | None,
    start: date,
    end: date,
    payments_per_day: int,
    seed: int,
    anomaly_rates: AnomalyRates | None = None,
    progress: bool = False,
) -> WorldSummary:
    """Write a consistent world of files into `inbox` and its ground truth into `truth_dir`."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    if payments_per_day < 1:
        raise ValueError("payments_per_day must be at least 1")
    inbox = Path(inbox)
    truth_dir = Path(truth_dir) if truth_dir is not None else inbox.parent / "truth"
    rates = anomaly_rates or AnomalyRates()
    all_days = days(start, end)
    truth = Truth(truth_dir)
    spool = Spool(truth_dir, end)
    world = World(
        inbox=inbox,
        start=start,
        end=end,
        payments_per_day=payments_per_day,
        seed=seed,
        ids=Ids(seed),
        rates=RateBook(start, end, seed),
        spool=spool,
        truth=truth,
        plan=AnomalyPlan(rates, seed, len(all_days), payments_per_day),
        rng=random.Random(f"{seed}:writers"),
        customers=max(20, payments_per_day // 2),
    )
    book = BankBook(world)
    n_invoices = invoices_per_day(payments_per_day)
    try:
        for day in _progress(all_days, progress):
            simulate_invoices(world, day, n_invoices)
            simulate_payments(world, day, payments_per_day)
            write_events_day(world, day)
            write_stripe_day(world, day)
            write_adyen_day(world, day)
            write_bank_day(world, book, day)
            write_rates_day(world, day)
            spool.discard_day(day)
        _deliver_twice(world)
    finally:
        spool.close()
    files = Counter(path.split("/", 1)[0] for path in world.files_written)
    summary = WorldSummary(
        inbox=inbox,
        truth_dir=truth_dir,
        days=len(all_days),
        payments=payments_per_day * len(all_days),
        invoices=world.ids.invoice_number,
        files=dict(sorted(files.items())),
        rows=dict(sorted(truth.row_counts.items())),
        anomalies=dict(sorted(truth.anomaly_counts.items())),
    )
    truth.close(
        {
            "world": {
                "start": start.isoformat(),
                "end": end.isoformat(),
                "payments_per_day": payments_per_day,
                "seed": seed,
                "files": summary.files,
            }
        }
    )
    return summary


def _progress(items: list[date], enabled: bool):
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc="sample world", unit="day")


def _deliver_twice(world: World) -> None:
    """Copy some processor/bank files byte for byte: renamed in place, or into a later day."""
    candidates = [
        p for p in world.files_written if p.split("/", 1)[0] in ("stripe", "adyen", "bank")
    ]
    for rel in candidates:
        if not world.plan.hit("file_delivered_twice"):
            continue
        source = world.inbox / rel
        _, day_text, name = rel.split("/")
        later = date.fromisoformat(day_text) + timedelta(days=1)
        if later <= world.end and world.rng.random() < 0.5:
            target = world.inbox / rel.split("/")[0] / later.isoformat() / name
        else:
            stem, dot, ext = name.rpartition(".")
            target = source.with_name(f"{stem} (1){dot}{ext}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        copy_rel = world.rel(target)
        world.truth.row("files", copy_rel, rel.split("/")[0], "", "", "", rel)
        world.truth.anomaly(
            "file_delivered_twice",
            rel,
            copy_rel,
            None,
            "same bytes delivered again under another path",
        )
        world.files_written.append(copy_rel)
