"""The ledger's invariants hold for any mix of valid and invalid events, in any arrival order."""

import json
from datetime import UTC, date, datetime, timedelta

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_pipeline.domain.payments import TRANSITIONS
from billing_pipeline.domain.rounding import RoundingRule
from billing_pipeline.warehouse.event_store import append_partition
from billing_pipeline.warehouse.landing import land_partition
from billing_pipeline.warehouse.ledger import rebuild_ledger

START = datetime(2026, 10, 5, 0, 0, tzinfo=UTC)
DAYS = [date(2026, 10, 5), date(2026, 10, 6), date(2026, 10, 7)]
LOG_TYPES = sorted({t.event_type for t in TRANSITIONS} - {"payment.settled", "payment.reconciled"})
ALLOWED = {(t.from_state, t.event_type, t.to_state) for t in TRANSITIONS}

event = st.fixed_dictionaries(
    {
        "payment": st.sampled_from(["pay_a", "pay_b", "pay_c"]),
        "type": st.sampled_from(LOG_TYPES),
        "minutes": st.integers(0, 3 * 24 * 60 - 1),
        "amount": st.integers(1, 5_000),
        "currency": st.sampled_from(["USD", "JPY", "KWD"]),
        "invoice": st.sampled_from([None, "inv_1"]),
    }
)


def _lines(events: list[dict]) -> dict[int, list[str]]:
    """The events as JSON lines, each filed under the day it occurred (its delivery day)."""
    files: dict[int, list[str]] = {0: [], 1: [], 2: []}
    for index, e in enumerate(events):
        at = START + timedelta(minutes=e["minutes"])
        body = {
            "event_id": f"evt_{index:04d}",
            "type": e["type"],
            "occurred_at": at.isoformat(),
            "payment_id": e["payment"],
            "customer_id": "cus_1",
            "invoice_id": e["invoice"],
            "amount_minor": e["amount"],
            "currency": e["currency"],
            "processor": "stripe",
            "processor_ref": f"ch_{e['payment']}",
        }
        files[(at.date() - DAYS[0]).days].append(json.dumps(body, sort_keys=True))
    return files


def _run(inbox, files: dict[int, list[str]], day_order: list[int]) -> tuple:
    for day_index, lines in files.items():
        folder = inbox / "events" / DAYS[day_index].isoformat()
        folder.mkdir(parents=True)
        (folder / "events.jsonl").write_text("\n".join(lines) + "\n")
    conn = duckdb.connect()
    now = datetime(2026, 10, 8, tzinfo=UTC)
    for day_index in day_order:
        land_partition(conn, inbox, "events", DAYS[day_index], "run", now)
        append_partition(conn, DAYS[day_index], "UTC", "run", now)
    rebuild_ledger(conn, "USD", RoundingRule.HALF_EVEN, "run", now)
    states = conn.execute(
        "select payment_id, state, amount_captured_minor, amount_refunded_minor "
        "from ledger_store.payment_states order by 1"
    ).fetchall()
    history = conn.execute(
        "select payment_id, from_state, event_id, to_state from ledger_store.payment_history"
    ).fetchall()
    journal = conn.execute(
        "select fact_id, line_no, account, currency, debit_minor, credit_minor, "
        "functional_debit_minor, functional_credit_minor from ledger_store.journal_lines "
        "order by fact_id, line_no"
    ).fetchall()
    unbalanced = conn.execute(
        "select fact_id from ledger_store.journal_lines group by fact_id, currency "
        "having sum(debit_minor) != sum(credit_minor) union all "
        "select fact_id from ledger_store.journal_lines group by fact_id "
        "having sum(functional_debit_minor) != sum(functional_credit_minor)"
    ).fetchall()
    conn.close()
    return states, sorted(history, key=repr), journal, unbalanced


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(events=st.lists(event, min_size=1, max_size=14), order=st.permutations([0, 1, 2]))
def test_any_events_in_any_file_order_give_one_balanced_journal_and_legal_states(
    tmp_path_factory, events, order
):
    files = _lines(events)
    in_order = _run(tmp_path_factory.mktemp("in_order"), files, [0, 1, 2])
    shuffled = _run(tmp_path_factory.mktemp("shuffled"), files, order)

    assert in_order == shuffled  # the same facts give the same ledger, whatever arrived first
    _, history, _, unbalanced = in_order
    assert unbalanced == []
    types = {f"evt_{i:04d}": e["type"] for i, e in enumerate(events)}
    for _, from_state, event_id, to_state in history:
        assert (from_state, types[event_id], to_state) in ALLOWED
