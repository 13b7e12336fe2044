"""Sensors: late files in the inbox, and a record of every daily run's check outcomes.

`inbox_sensor` asks for a run of the partition a newly arrived file belongs to. Its cursor is
small whatever the size of the inbox: a watermark (the newest arrival stamp seen) plus the
files that arrived within a grace window below it, so a file whose stamp lands just under the
watermark (clock skew of a file share, a copy finishing late) is still seen once. A file's
arrival stamp is max(mtime, ctime): ctime moves when a file is created or renamed into place,
even when a copy preserves an old mtime.

Run keys are `<source>/<date>/<sha256>`: Dagster never launches two runs for one key, so the
same bytes delivered for the same date trigger one run however often they are touched, and a
new version of a file (new bytes) triggers a new run.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path

import dagster as dg

from billing_pipeline import settings
from billing_pipeline.defs.partitions import daily_partitions
from billing_pipeline.defs.schedules import daily_job
from billing_pipeline.reporting.run_log import record_dagster_run
from billing_pipeline.warehouse.tables import SOURCE_FRAMES

GRACE_NS = 10 * 60 * 1_000_000_000  # files stamped up to 10 minutes under the watermark


@dataclass(frozen=True)
class InboxFile:
    source: str
    folder: str  # the date folder as written; a partition key when it is a valid date
    relpath: str
    stamp_ns: int


@dataclass(frozen=True)
class InboxCursor:
    watermark_ns: int = 0
    recent: tuple[tuple[str, int], ...] = ()  # (relpath, stamp) at or above watermark - grace

    @classmethod
    def parse(cls, text: str | None) -> "InboxCursor":
        if not text:
            return cls()
        data = json.loads(text)
        recent = tuple(sorted((path, int(stamp)) for path, stamp in data["recent"].items()))
        return cls(int(data["watermark_ns"]), recent)

    def dump(self) -> str:
        return json.dumps(
            {"watermark_ns": self.watermark_ns, "recent": dict(self.recent)},
            sort_keys=True,
            separators=(",", ":"),
        )

    def is_new(self, file: InboxFile) -> bool:
        if file.stamp_ns <= self.watermark_ns - GRACE_NS:
            return False
        return (file.relpath, file.stamp_ns) not in self._recent_set

    @cached_property
    def _recent_set(self) -> frozenset[tuple[str, int]]:
        return frozenset(self.recent)

    def advanced(self, files: list[InboxFile]) -> "InboxCursor":
        watermark = max([self.watermark_ns, *(f.stamp_ns for f in files)])
        recent = {(f.relpath, f.stamp_ns) for f in files if f.stamp_ns > watermark - GRACE_NS}
        return InboxCursor(watermark, tuple(sorted(recent)))


def scan_inbox(inbox: Path) -> list[InboxFile]:
    """Every file under <inbox>/<source>/<folder>/, for the known sources, with its stamp."""
    found: list[InboxFile] = []
    for source in SOURCE_FRAMES:
        source_dir = inbox / source
        if not source_dir.is_dir():
            continue
        for folder in sorted(p for p in source_dir.iterdir() if p.is_dir()):
            for path in sorted(p for p in folder.iterdir() if p.is_file()):
                try:
                    stat = path.stat()
                except FileNotFoundError:  # moved away between listing and stat
                    continue
                found.append(
                    InboxFile(
                        source=source,
                        folder=folder.name,
                        relpath=path.relative_to(inbox).as_posix(),
                        stamp_ns=max(stat.st_mtime_ns, stat.st_ctime_ns),
                    )
                )
    return found


def partition_of(folder: str) -> str | None:
    """The partition key a date folder names, or None when it is no partition (yet)."""
    try:
        key = date.fromisoformat(folder).isoformat()
    except ValueError:
        return None
    # Before the first partition, or a business date that has not ended yet: the daily
    # schedule runs those dates once they are complete.
    return key if daily_partitions.has_partition_key(key) else None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def evaluate_inbox(
    inbox: Path, cursor: InboxCursor
) -> tuple[list[dg.RunRequest], list[str], InboxCursor]:
    """Run requests for the files that arrived since `cursor`, why others were skipped, and
    the cursor after them (from the same scan, so no file slips between the two)."""
    files = scan_inbox(inbox)
    requests: list[dg.RunRequest] = []
    skipped: list[str] = []
    for file in files:
        if not cursor.is_new(file):
            continue
        partition = partition_of(file.folder)
        if partition is None:
            skipped.append(f"{file.relpath}: {file.folder!r} is not a partition of daily_job")
            continue
        try:
            sha = sha256_of(inbox / file.relpath)
        except OSError as error:  # removed or unreadable between scan and read
            skipped.append(f"{file.relpath}: {error}")
            continue
        requests.append(
            dg.RunRequest(
                run_key=f"{file.source}/{partition}/{sha}",
                partition_key=partition,
                tags={"billing/trigger": "inbox_sensor", "billing/file": file.relpath},
            )
        )
    return requests, skipped, cursor.advanced(files)


# Off until an operator turns it on: its first tick requests every date found in the inbox.
@dg.sensor(
    job=daily_job,
    minimum_interval_seconds=60,
    description="A run of a business date when a file lands late in data/inbox/<source>/<date>/ "
    "(one run per distinct file bytes per date).",
)
def inbox_sensor(context: dg.SensorEvaluationContext):
    cursor = InboxCursor.parse(context.cursor)
    inbox = settings.inbox_dir()
    requests, skipped, advanced = evaluate_inbox(inbox, cursor)
    for reason in skipped:
        context.log.info(f"not requested: {reason}")
    context.update_cursor(advanced.dump())
    if not requests:
        return dg.SkipReason(f"no new file in {inbox}")
    return requests


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[daily_job],
    description="Records the check outcomes of every successful daily run for `report`.",
    # On by default: it only writes <warehouse>/run_log/<date>.json.
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def record_successful_run(context: dg.RunStatusSensorContext):
    record_dagster_run(context.instance, context.dagster_run, settings.warehouse_dir())


@dg.run_failure_sensor(
    monitored_jobs=[daily_job],
    description="Records the check outcomes of every failed daily run for `report`.",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def record_failed_run(context: dg.RunFailureSensorContext):
    record_dagster_run(context.instance, context.dagster_run, settings.warehouse_dir())


sensors = [inbox_sensor, record_successful_run, record_failed_run]
