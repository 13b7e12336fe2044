"""Every bad input of the corpus has its expected outcome, and the invariants hold after it.

Nothing crashes, nothing is silently dropped: each row read is staged or quarantined with its
line and reason, each refused file is registered with its reason, and the journal built from
whatever was accepted balances entry by entry and in total.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import duckdb
import pytest

from tests.reliability.corpus import CASES, Case
from tests.reliability.inprocess import deliver, invariant_violations, run_days

DAY = date(2026, 10, 5)
EARLIER = DAY - timedelta(days=1)


def _land(case: Case, inbox) -> duckdb.DuckDBPyConnection:
    for name, content in case.earlier.items():
        deliver(inbox, case.source, EARLIER, name, content)
    for name, content in case.files.items():
        deliver(inbox, case.source, DAY, name, content)
    conn = duckdb.connect()
    run_days(conn, inbox, [EARLIER, DAY] if case.earlier else [DAY])
    return conn


def _registry(conn, name: str) -> dict | None:
    rows = conn.execute(
        "select status, detail, rows_read, rows_staged, rows_quarantined, file_id "
        "from ingest.file_registry where file_name = ? and partition_date = ? "
        "and status != 'superseded'",
        [name, DAY],
    ).fetchall()
    assert len(rows) <= 1
    keys = ("status", "detail", "rows_read", "rows_staged", "rows_quarantined", "file_id")
    return dict(zip(keys, rows[0], strict=True)) if rows else None


def _reasons(conn, stages: tuple[str, ...], file_id: str | None = None) -> list[str]:
    marks = ", ".join("?" for _ in stages)
    sql = f"select reason, line_no from ingest.quarantine where stage in ({marks})"
    params: list = list(stages)
    if file_id is not None:
        sql += " and file_id = ?"
        params.append(file_id)
    return [f"line {line}: {reason}" for reason, line in conn.execute(sql, params).fetchall()]


def _assert_outcome(case: Case, conn) -> None:
    entry = _registry(conn, case.target)
    if case.expect == "ignored":
        assert entry is None
        return
    assert entry is not None, "the file was neither landed nor refused"
    status, detail = entry["status"], entry["detail"] or ""
    if case.expect == "file":
        assert status == "unreadable", entry
        assert re.search(case.pattern, detail), detail
        quarantined = _reasons(conn, ("parse",), entry["file_id"])
        assert len(quarantined) == 1 and "unreadable" in quarantined[0]
    elif case.expect == "duplicate":
        assert status == "duplicate", entry
        assert re.search(case.pattern, detail), detail
        assert entry["rows_staged"] == 0
    elif case.expect == "row":
        assert status == "landed", entry
        reasons = _reasons(conn, ("parse", "validate"), entry["file_id"])
        assert any(re.search(case.pattern, r) for r in reasons), reasons
        assert all(re.match(r"line \d+: ", r) for r in reasons), reasons  # each with its line
    elif case.expect == "ledger":
        assert status == "landed", entry
        reasons = _reasons(conn, ("ledger",))
        assert any(re.search(case.pattern, r) for r in reasons), reasons
    elif case.expect == "staged":
        assert status == "landed", entry
        assert (entry["rows_staged"], entry["rows_quarantined"]) == (case.rows, 0), (
            entry,
            _reasons(conn, ("parse", "validate")),
        )
    else:
        raise AssertionError(f"unknown expectation {case.expect}")
    if case.check is not None:
        sql, expected = case.check
        assert conn.execute(sql).fetchall() == expected


def test_the_corpus_has_at_least_sixty_distinct_cases_over_every_source():
    assert len({c.id for c in CASES}) == len(CASES) >= 60
    assert {c.source for c in CASES} == {"stripe", "adyen", "bank", "events", "rates"}


def _params() -> list:
    return [
        pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=c.xfail)])
        if c.xfail
        else pytest.param(c, id=c.id)
        for c in CASES
    ]


@pytest.mark.parametrize("case", _params())
def test_bad_input_has_its_expected_outcome_and_the_invariants_hold(case: Case, tmp_path):
    conn = _land(case, tmp_path / "inbox")
    try:
        _assert_outcome(case, conn)
        assert invariant_violations(conn, [EARLIER, DAY]) == {}
    finally:
        conn.close()
