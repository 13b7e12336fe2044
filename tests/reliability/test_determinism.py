"""The same files give the same published results, whatever the process time zone, the number
of DuckDB threads, the order in which files are named, or a file arriving a day late.

Three runs of one world (2 business dates x 20 payments) through the command line, at once:
  A  TZ=UTC,                 1 DuckDB thread,  files as generated
  B  TZ=America/Los_Angeles, 2 DuckDB threads, files as generated
  C  TZ=Asia/Kolkata,        2 DuckDB threads, every file renamed so that they sort in the
     opposite order, and day 1's MT940 statement delivered late, in day 2's folder
A and B must publish identical relations (run-time columns aside). C differs in where and
when files were delivered, so it is compared on what does not depend on delivery: the
balances of every account, the states of every payment and invoice, and the journal's
amounts per event, as of the last date.
"""

from __future__ import annotations

import shutil
import time

import duckdb
import pytest

from tests.reliability import cli_runs as cli

pytestmark = pytest.mark.e2e

VARIANTS = {
    "A": {"TZ": "UTC", "BILLING_DUCKDB_THREADS": "1"},
    "B": {"TZ": "America/Los_Angeles", "BILLING_DUCKDB_THREADS": "2"},
    "C": {"TZ": "Asia/Kolkata", "BILLING_DUCKDB_THREADS": "2"},
}
# Relations compared for the late-file run, as of the last date, without delivery columns.
DELIVERY_INDEPENDENT = {
    "balances": "select account, currency, balance_minor, functional_balance_minor "
    f"from ledger.account_balances_daily where as_of_date = '{cli.DAY2}'",
    "payments": "select payment_id, state, amount_captured_minor, amount_refunded_minor, "
    "currency from payments.payment_states",
    "journal_per_event": "select event_id, account, currency, sum(debit_minor), "
    "sum(credit_minor), sum(functional_debit_minor), sum(functional_credit_minor) "
    "from ledger.journal_lines where event_id not like 'recon%' group by all",
    "trial_balance": "select * from ledger.trial_balance",
}


def _late_and_renamed(inbox) -> None:
    for path in sorted(p for p in inbox.glob("*/*/*") if p.is_file()):
        path.rename(path.with_name(f"{999 - len(path.name):03d}_{path.name}"))
    [late] = list((inbox / "bank" / cli.DAY1).glob("*mt940*"))
    late.rename(inbox / "bank" / cli.DAY2 / late.name)


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("determinism")
    cli.make_world(base / "world" / "inbox")
    roots, processes = {}, {}
    for name in VARIANTS:
        roots[name] = base / name
        shutil.copytree(base / "world" / "inbox", roots[name] / "inbox")
        if name == "C":
            _late_and_renamed(roots[name] / "inbox")
    started = time.monotonic()
    for name, extra in VARIANTS.items():
        processes[name] = cli.start(
            roots[name], "run", "--from", cli.DAY1, "--to", cli.DAY2, **extra
        )
    for name, process in processes.items():
        out, _ = process.communicate(timeout=900)
        assert process.returncode == 0, f"{name}: {out[-3000:]}"
    print(f"determinism: 3 runs in {time.monotonic() - started:.0f}s")
    return roots


def _query(root, sql: str) -> list[tuple]:
    with duckdb.connect(str(root / "warehouse" / "analytics.duckdb"), read_only=True) as conn:
        return sorted(conn.execute(sql).fetchall(), key=repr)


def test_time_zone_and_thread_count_change_nothing_that_is_published(roots):
    a = cli.published(roots["A"] / "warehouse" / "analytics.duckdb")
    b = cli.published(roots["B"] / "warehouse" / "analytics.duckdb")
    assert set(a) == set(b)
    assert a["ledger.journal_lines"]
    different = [relation for relation in sorted(a) if a[relation] != b[relation]]
    assert different == []


@pytest.mark.parametrize("name", sorted(DELIVERY_INDEPENDENT))
def test_a_late_file_and_another_arrival_order_give_the_same_books(roots, name):
    sql = DELIVERY_INDEPENDENT[name]
    in_order = _query(roots["A"], sql)
    assert in_order
    assert _query(roots["C"], sql) == in_order


def test_the_late_file_is_registered_under_the_day_it_arrived(roots):
    rows = _query(
        roots["C"],
        "select partition_date::varchar, status from ops.file_registry where path like '%mt940%'",
    )
    assert (cli.DAY2, "landed") in rows and len(rows) == 2
