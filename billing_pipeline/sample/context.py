"""The state one world generation shares between its simulators and writers."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from billing_pipeline.sample.anomalies import AnomalyPlan
from billing_pipeline.sample.fx import RateBook
from billing_pipeline.sample.ids import Ids
from billing_pipeline.sample.spool import Spool
from billing_pipeline.sample.truth import Truth

_FIRST = (
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Wonka",
    "Gringotts",
    "Oceanic",
    "Nakatomi",
    "Aperture",
)
_SECOND = (
    "Trading",
    "Holdings",
    "Labs",
    "Retail",
    "Logistics",
    "Foods",
    "Media",
    "Systems",
    "Partners",
    "Studio",
    "Works",
    "Supplies",
)
_LEGAL = ("Ltd", "GmbH", "Inc", "BV", "SA", "KK", "WLL", "LLC")


@dataclass
class World:
    inbox: Path
    start: date
    end: date
    payments_per_day: int
    seed: int
    ids: Ids
    rates: RateBook
    spool: Spool
    truth: Truth
    plan: AnomalyPlan
    rng: random.Random  # scalar draws of the writers (bank noise, reference styles...)
    customers: int
    files_written: list[str] = field(default_factory=list)  # inbox-relative paths, in order

    def rel(self, path: Path) -> str:
        return path.relative_to(self.inbox).as_posix()

    def out_path(self, source: str, d: date, name: str) -> Path:
        folder = self.inbox / source / d.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name


def customer_id(index: int) -> str:
    return f"cust_{index:08d}"


def customer_name(index: int) -> str:
    first = _FIRST[index % len(_FIRST)]
    second = _SECOND[(index // len(_FIRST)) % len(_SECOND)]
    legal = _LEGAL[(index // (len(_FIRST) * len(_SECOND))) % len(_LEGAL)]
    return f"{first} {second} {legal}"
