"""The results table names each results file and keeps runs that died, so a run killed for
memory is reported as such instead of breaking the table (or vanishing from it)."""

from __future__ import annotations

import json

from benchmarks.report import growth, render


def _day(name, payments, days, returncode=0):
    usage = {"wall": 10.0, "cpu": 9.0, "peak_rss_mib": 100.0, "returncode": returncode}
    run = {"usage": usage} if days is None else {"usage": usage, "days": days}
    floor = {"seconds": [0.5], "rows": {"events": 30}, "bytes": 2_000_000}
    arms = {"lean_sql_seconds": [0.1], "pandas_seconds": [0.2], "pandas_load_seconds": 0.1,
            "leg1": [3, 300], "leg2_reference": [1, 10], "leg2_amount_date": [0, 0]}  # fmt: skip
    record = {"scenario": "day", "payments_per_day": payments, "run": run, "floor": floor,
              "arms": arms}  # fmt: skip
    return name, record


def test_a_killed_day_and_a_stopped_backfill_are_rows_named_after_their_files(tmp_path):
    stages = {"ingest": 1.0, "recon": 2.0}
    files = [
        _day("day-5-ok", 5, [{"stages": stages, "steps": {"reconciliation": 2.0}}]),
        _day("day-5-killed", 5, None, returncode=-9),
        # Failed after its first steps (a disk filled up): stage timings, but no recon.
        _day("day-5-failed", 5, [{"stages": {"ingest": 1.0}, "steps": {}}], returncode=1),
        ("backfill-stopped", {"scenario": "backfill", "payments_per_day": 5, "days": 30,
                              "stopped_after": 2,
                              "run": {"days": [{"wall": 3.0}, {"wall": 4.0}]}}),
    ]  # fmt: skip
    paths = []
    for name, record in files:
        (path := tmp_path / f"{name}.json").write_text(json.dumps(record))
        paths.append(path)
    table = render(paths)
    killed = next(line for line in table.splitlines() if line.startswith("| day-5-killed "))
    assert "exit -9" in killed and killed.count("|") == table.splitlines()[0].count("|")
    recon_rows = [line for line in table.splitlines() if "0.20 (+0.10)" in line]
    assert [row.split(" | ")[0] for row in recon_rows] == ["| day-5-ok"]
    failed = next(line for line in table.splitlines() if line.startswith("| day-5-failed "))
    assert failed.count("|") == table.splitlines()[0].count("|")
    assert "| backfill-stopped | 30 days × 5 (stopped after 2) | 7.0 |" in table


def test_a_day_with_the_floor_read_on_both_sides_reports_the_ratio_against_each(tmp_path):
    name, bracketed = _day("day-5-bracketed", 5, [{"stages": {}, "steps": {}}])
    bracketed["floor_before"] = {"seconds": [0.9, 0.4], "rows": {"events": 30}, "bytes": 1}
    older_name, older = _day("day-5-older", 5, [{"stages": {}, "steps": {}}])
    for label, record in ((name, bracketed), (older_name, older)):
        (tmp_path / f"{label}.json").write_text(json.dumps(record))
    table = render(sorted(tmp_path.glob("*.json")))
    rows = {line.split(" | ")[0]: line for line in table.splitlines() if line.startswith("| day")}
    # wall 10 s: 10 / 0.5 (after) = 20x, 10 / 0.4 (the fastest read before) = 25x
    assert rows["| day-5-bracketed"].endswith("| 0.40 / 0.50 | 20-25x |")
    assert rows["| day-5-older"].endswith("| 0.50 | 20x |")


def test_a_backfills_growth_per_date_of_history_is_fitted_without_its_last_date(tmp_path):
    """The last date runs the whole chain (ledger, dbt, publish) and would skew the line."""
    days = [
        {
            "wall": 0.0,
            "steps": {"recon": 5.0 + 0.5 * n, "store": 2.0, **({"odd": 1.0} if n else {})},
        }
        for n in range(6)
    ] + [{"wall": 0.0, "steps": {"recon": 900.0, "store": 900.0, "ledger": 900.0}}]
    lines = growth(days)
    assert set(lines) == {"recon", "store"}  # "odd" is missing on the first date
    first, slope, dates = lines["recon"]
    assert (round(first, 9), round(slope, 9), dates) == (5.0, 0.5, 6)
    assert lines["store"][:2] == (2.0, 0.0)
    usage = {"wall": 1.0, "cpu": 1.0, "peak_rss_mib": 1.0}
    run = {"usage": usage, "days": days}
    record = {"scenario": "backfill", "payments_per_day": 5, "days": 7, "run": run}
    (tmp_path / "backfill-grows.json").write_text(json.dumps(record))
    table = render([tmp_path / "backfill-grows.json"])
    # 5.0 s at date 1, plus 0.5 s for each of the 364 dates after it: 187.0 s at date 365
    assert "| backfill-grows | recon | 6 | 5.0 | +0.50 | 187.0 |" in table
    assert growth(days[:3]) == {}  # two dates before the last are no line


def test_each_steps_cpu_is_reported_beside_its_wall_for_the_days_that_measured_it(tmp_path):
    steps = {"ingest": 3.0, "reconciliation": 4.0}
    cpu = {"ingest": 5.5, "reconciliation": 4.5}
    for name, day in (
        ("day-5-cpu", {"stages": {}, "steps": steps, "cpu_seconds_by_step": cpu}),
        ("day-5-before", {"stages": {}, "steps": steps}),  # measured before CPU was sampled
    ):
        (tmp_path / f"{name}.json").write_text(json.dumps(_day(name, 5, [day])[1]))
    lines = render(sorted(tmp_path.glob("*.json"))).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| results file (CPU"))
    table = lines[start : lines.index("", start) if "" in lines[start:] else None]
    header, rows = table[0], table[2:]
    assert [row.split(" | ")[0] for row in rows] == ["| day-5-cpu"]
    cells = dict(zip(header.strip("| ").split(" | "), rows[0].strip("| ").split(" | "),
                     strict=True))  # fmt: skip
    assert cells["ingest"] == "5.5 / 3.0"
    assert cells["reconciliation"] == "4.5 / 4.0"
    assert cells["ledger"] == "–"
