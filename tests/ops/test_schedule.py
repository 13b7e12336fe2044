"""The daily schedule runs yesterday's business date, in the configured business time zone."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

_PROBE = """
import json
from datetime import datetime
from zoneinfo import ZoneInfo
import dagster as dg
from billing_pipeline.definitions import defs

schedule = defs.resolve_schedule_def("daily_job_schedule")
out = {"zone": schedule.execution_timezone, "cron": schedule.cron_schedule, "ticks": {}}
for instant in ["2026-10-10T06:00:00+13:00", "2026-10-09T17:00:00+00:00",
                "2026-03-01T06:00:00+00:00"]:
    context = dg.build_schedule_context(scheduled_execution_time=datetime.fromisoformat(instant))
    requests = schedule.evaluate_tick(context).run_requests or []
    out["ticks"][instant] = [r.partition_key for r in requests]
print(json.dumps(out))
"""


def _probe(zone: str | None) -> dict:
    env = {**os.environ}
    env.pop("BILLING_TIMEZONE", None)
    if zone:
        env["BILLING_TIMEZONE"] = zone
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_schedule_fires_at_six_in_the_business_zone_for_the_day_before():
    auckland = _probe("Pacific/Auckland")
    assert auckland["zone"] == "Pacific/Auckland"
    assert auckland["cron"] == "0 6 * * *"
    # 06:00 on 10 October in Auckland is 17:00 UTC on 9 October: both are the same tick,
    # and the business day that has just ended there is 9 October.
    assert auckland["ticks"]["2026-10-10T06:00:00+13:00"] == ["2026-10-09"]
    assert auckland["ticks"]["2026-10-09T17:00:00+00:00"] == ["2026-10-09"]


def test_in_utc_the_same_instant_is_still_the_eighth_and_march_first_runs_february_28th():
    # In this process, whose definitions were loaded with the default zone.
    from datetime import datetime

    import dagster as dg

    from billing_pipeline.definitions import defs

    schedule = defs.resolve_schedule_def("daily_job_schedule")
    if schedule.execution_timezone != "UTC":
        pytest.skip("BILLING_TIMEZONE is set for this test run")

    def partitions(instant: str) -> list[str]:
        context = dg.build_schedule_context(
            scheduled_execution_time=datetime.fromisoformat(instant)
        )
        return [r.partition_key for r in schedule.evaluate_tick(context).run_requests or []]

    # 17:00 UTC on 9 October: in UTC the 9th has not ended, the last complete day is the 8th.
    assert partitions("2026-10-09T17:00:00+00:00") == ["2026-10-08"]
    assert partitions("2026-03-01T06:00:00+00:00") == ["2026-02-28"]
