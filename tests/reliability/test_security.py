"""Security basics: no file value reaches SQL as text, spreadsheets never run an exported cell,
bank accounts are masked in what goes to logs and run metadata, one writer per warehouse."""

from __future__ import annotations

import ast
import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_pipeline.reliability.csv_export import neutralize_cell, write_csv
from billing_pipeline.reliability.masking import mask_account, mask_metadata, mask_text
from billing_pipeline.reliability.run_lock import WarehouseBusy, hold_run_lock
from billing_pipeline.warehouse.publish import publish

PACKAGE = Path(__file__).resolve().parents[2] / "billing_pipeline"
SQL_METHODS = {"execute", "executemany", "sql", "query"}
# Every expression interpolated into SQL text in the package: names of tables, schemas,
# columns and SQL fragments built by the code itself, never a value read from a file. A new
# interpolation fails this test until it is reviewed and added here.
REVIEWED = {
    "alias", "schema", "table", "staged_table(source, frame)", "names", "marks", "own",
    "_sql_path(tmp_path)", "settings.warehouse_path()", "body", "_MATCH_COLUMNS",
    "_DISCREPANCY_COLUMNS", "group", "staged_union", "int(limit)", "GENESIS_HASH",
    "placeholders", "select", "relation", "measure", "unit", "bucket", "like", "candidates_sql",
    "_sql_list(DISCREPANCY_AGE_BUCKETS)", "_sql_list(INVOICE_AGING_BUCKETS)", "quoted",
    # The incremental ledger (ledger_scope/_delta/_writes/_check, lifecycles): temp-table
    # names, key expressions and predicates that are module constants or loop tuples of them.
    "', '.join(keep)", "REVALUATION_TYPES", "DERIVED", "monetary_sql('account')",
    "PAYMENT_RESUME", "INVOICE_RESUME", "PAYMENT_SCOPE", "INVOICE_SCOPE", "_PAYMENT_KEY",
    "_INVOICE_KEY", "_INVOICE_EVENT", "order", "out_of_order", "PAYMENT_MOVES", "NO_ID_KEYS",
    "LEDGER_QUARANTINED", "key", "where", "resume", "touched", "scope", "invoice_table",
    "payment_table", "stored_sql", "per_key.format(extra='')", "kind",
    "per_key.format(extra=', bool_or(new and invoice_id is not null) as new_invoice, "
    "bool_or(new and customer_id is not null) as new_customer')",
    # invoice_versions' own relation name, as dbt renders `this`.
    "existing",
    # The ledger's key copies (ledger_keys.KEYS): a module-constant table name.
    "KEYS", "ledger_keys.KEYS",
    # ledger_keys.refresh: the bounded view of the key copies (`int()` of a seq number).
    "view", "int(upto_seq)",
    # Module-constant SQL: the events the fact SQL reads (journal), the match columns and
    # content key of the span store (recon/match_spans).
    "FACT_EVENTS_SQL", "_CONTENT", "_KEY",
    # ledger_writes: the module-constant revaluation predicate, the ledger's quarantine rows
    # found by content (ledger_scope), and the events relation `_quarantine` is handed.
    "revaluation", "LEDGER_QUARANTINE_EVENTS_BY_CONTENT", "events",
    # ledger_writes: the quarantine rows of the module-constant temp table of rewritten
    # events; ledger_delta: the journal's own column names.
    "quarantine_rows('ledger_requarantined')", "', '.join(columns)",
    # ledger_scope: the module-constant column list the dirty events carry, and the
    # module-constant condition that an event's payment is in the scope table.
    "carried", "in_payments",
    # event_store: the module-constant candidates joined back to their payloads, and the
    # module-constant union of the rows it quarantines.
    "_with_payloads(candidates_sql, 'chain_links', window=True)",
    "_with_payloads(candidates_sql, f'({quarantined})')", "quarantined",
    # receivables.version_builds: one of the module-constant history queries of the invoices to
    # refold.
    "history",
    # publish: the quoted names of a published relation and its copy, and the copy's column
    # definitions (names and types DESCRIBE gives of the package's own relations).
    "source", "target", "definitions",
}  # fmt: skip


def _interpolations() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr not in SQL_METHODS or not node.args:
                continue
            for part in ast.walk(node.args[0]):
                if isinstance(part, ast.FormattedValue):
                    found.setdefault(ast.unparse(part.value), set()).add(path.name)
    return found


def test_sql_text_interpolates_only_reviewed_names_never_values_from_files():
    unreviewed = {e: files for e, files in _interpolations().items() if e not in REVIEWED}
    assert unreviewed == {}


def test_publish_to_a_directory_whose_name_holds_quotes_and_sql(tmp_path):
    target = tmp_path / "it's'; drop schema ledger; --" / "analytics.duckdb"
    with duckdb.connect(str(tmp_path / "billing.duckdb")) as conn:
        conn.execute("create schema ledger")
        conn.execute("create table ledger.trial_balance as select 1 as n")
        assert publish(conn, target) == {"ledger.trial_balance": 1}
    with duckdb.connect(str(target), read_only=True) as reader:
        assert reader.execute("select n from ledger.trial_balance").fetchall() == [(1,)]


def test_a_publish_removes_temporary_files_left_by_a_killed_run(tmp_path):
    target = tmp_path / "analytics.duckdb"
    leftovers = [
        tmp_path / ".analytics.duckdb.dead.tmp",
        tmp_path / ".analytics.duckdb.dead.tmp.wal",
    ]
    for path in leftovers:
        path.write_bytes(b"half written")
    with duckdb.connect(str(tmp_path / "billing.duckdb")) as conn:
        publish(conn, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["analytics.duckdb", "billing.duckdb"]


FORMULAS = ["=CMD|' /C calc'!A0", "+SUM(A1:A9)", "-2+3", "@SUM(1)", "\t=1", "\r=1"]


def test_exported_csv_cells_that_a_spreadsheet_would_run_are_quoted(tmp_path):
    path = tmp_path / "out" / "discrepancies.csv"
    rows = [[f, -1250, "plain text"] for f in FORMULAS]
    assert write_csv(path, ["reference", "amount_minor", "note"], rows) == len(FORMULAS)
    with path.open(newline="", encoding="utf-8") as handle:
        read = list(csv.reader(handle))
    assert [r[0] for r in read[1:]] == ["'" + f for f in FORMULAS]
    assert {r[1] for r in read[1:]} == {"-1250"}  # numbers stay numbers
    assert [p.name for p in path.parent.iterdir()] == ["discrepancies.csv"]


@given(st.text(max_size=30))
def test_no_neutralized_cell_starts_with_a_formula_trigger(text):
    cell = neutralize_cell(text)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert cell in (text, "'" + text)


@given(st.from_regex(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}", fullmatch=True))
@settings(max_examples=50)
def test_masked_metadata_never_holds_a_full_account_and_keeps_its_last_four(iban):
    metadata = {
        "broken": [{"seq": 7, "idempotency_key": f"bank:{iban}:ref:CB1:1"}],
        "reused_bank_lines": [f"bank:{iban}:entry:2026-10-05:EUR:1250:abc:1"],
        "account": f"assets:bank:{iban}",
        "detail": f"credit from {iban} unexplained",
    }
    masked = repr(mask_metadata(metadata))
    assert iban not in masked
    assert masked.count(iban[-4:]) >= 4
    assert mask_metadata(metadata)["broken"][0]["seq"] == 7


def test_masking_examples_read_by_hand():
    assert mask_account("DE89370400440532013000") == "******************3000"
    assert mask_account("123") == "***"
    assert mask_text("bank:4021987765:ref:X:1") == "bank:******7765:ref:X:1"
    assert (
        mask_text("payout po_123 for invoice INV-000001") == "payout po_123 for invoice INV-000001"
    )


def test_a_second_holder_of_the_run_lock_is_refused_with_the_first_ones_pid(tmp_path):
    busy = pytest.raises(WarehouseBusy, match=rf"pid {os.getpid()}, run of 2026-10-05")
    with hold_run_lock(tmp_path, "run of 2026-10-05"), busy, hold_run_lock(tmp_path):
        pass
    with hold_run_lock(tmp_path):  # released when the block ends
        pass


def test_a_run_killed_while_holding_the_lock_leaves_no_stale_lock(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path;"
         "from billing_pipeline.reliability.run_lock import hold_run_lock\n"
         "with hold_run_lock(Path(sys.argv[1])):\n print('held', flush=True); time.sleep(60)",
         str(tmp_path)],
        stdout=subprocess.PIPE, text=True, cwd=PACKAGE.parent,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    with pytest.raises(WarehouseBusy), hold_run_lock(tmp_path):
        pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    time.sleep(0.05)
    with hold_run_lock(tmp_path):
        pass
