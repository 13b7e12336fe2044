"""Reconciliation keeps typed copies of the store's events between runs (`recon_cache`) and
carries forward leg-1 matches no new event can change (`recon.carry`). Both are shortcuts:
whatever order events arrive in (late ones included) and dates are run in, a run that uses
them writes exactly what a run starting from no copies and no earlier matches writes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_pipeline.recon import load_rules, reconcile
from billing_pipeline.recon.store import TABLES
from billing_pipeline.warehouse.event_store import append_decisions
from billing_pipeline.warehouse.tables import ensure_schema
from tests.recon.builders import RULES_PATH, Store, run_output

RULES = load_rules(RULES_PATH)
MON = date(2026, 10, 5)
AMOUNTS = st.sampled_from([970, 1000, 5000, 5030])
DAY = st.integers(0, 6)
LIFECYCLES = st.sampled_from(
    [
        ("created", "authorized", "captured"),
        ("authorized", "captured", "refunded"),
        ("captured",),  # never authorized: not reconciled
        ("authorized", "failed", "captured"),  # captured after failing: not reconciled
        ("authorized", "captured", "dispute_opened", "dispute_won"),
    ]
)
LINE_TYPES = ["charge", "refund"]
BANK_TEXTS = ["po", "inv", "x"]
ACTIONS = st.one_of(
    st.tuples(st.just("payment"), st.integers(0, 3), DAY, AMOUNTS, LIFECYCLES),
    st.tuples(st.just("line"), st.integers(0, 3), DAY, AMOUNTS, st.sampled_from(LINE_TYPES)),
    st.tuples(st.just("payout"), st.integers(0, 2), DAY, AMOUNTS),
    st.tuples(st.just("bank"), st.integers(0, 2), DAY, AMOUNTS, st.sampled_from(BANK_TEXTS)),
    st.tuples(st.just("invoice"), st.integers(0, 2), DAY, AMOUNTS),
    st.tuples(st.just("reconcile"), DAY),
)  # fmt: skip


def _apply(store: Store, number: int, action: tuple) -> None:
    kind, pick, day = action[0], action[1], MON + timedelta(days=action[2])
    if kind == "payment":
        refund = action[4] == ("authorized", "captured", "refunded")
        store.payment(f"p{number}", f"ch_{pick}", day, action[3], kinds=action[4],
                      invoice_id=None if refund else f"inv_{pick}")  # fmt: skip
    elif kind == "line":
        store.line(f"ch_{pick}", action[4], day, action[3], payout=f"po_{pick % 3}", fee=30,
                   line_ref=f"txn_{number}")  # fmt: skip
    elif kind == "payout":
        store.payout(f"po_{pick}_{number}", day, action[3], bank_reference=f"po_{pick}")
    elif kind == "bank":
        text = {"po": f"STRIPE PAYOUT po_{pick}", "inv": f"INV-00000{pick}", "x": "TRANSFER"}
        store.bank(f"B{number}", day, action[3], text[action[4]], counterparty="STRIPE")
    elif kind == "invoice":
        store.invoice(f"inv_{pick}_{number}", f"INV-00000{pick}", day, action[3])


def _outputs(store: Store) -> dict[str, list[tuple]]:
    return {t: run_output(store, t) for t in TABLES}


def _store_decisions(store: Store, as_of: date) -> None:
    """What the reconciliation asset does after a run; later events get later seqs."""
    ensure_schema(store.conn)  # the quarantine a conflicting decision goes to
    append_decisions(store.conn, as_of, "r", datetime(2026, 11, 1, tzinfo=UTC))
    store.seq = store.conn.execute("select coalesce(max(seq), 0) from store.events").fetchone()[0]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ACTIONS, min_size=3, max_size=30), st.booleans())
def test_a_run_reusing_its_event_copies_and_carried_matches_equals_a_run_from_none(
    actions, store_decisions
):
    """With the decisions stored after each run (as the asset does) or not (a run that
    stopped before storing them): a carried pair's decision is made again only when needed."""
    incremental, scratch = Store(), Store()
    runs = 0
    for number, action in enumerate([*actions, ("reconcile", 6)]):
        if action[0] != "reconcile":
            _apply(incremental, number, action)
            _apply(scratch, number, action)
            continue
        if runs == 2 and action != ("reconcile", 6):
            continue  # a few runs per example keep the test fast
        runs += 1
        as_of = MON + timedelta(days=action[1])
        scratch.conn.execute("drop schema if exists recon_cache cascade")
        # No run marks: the scratch run matches all history instead of carrying leg 1.
        scratch.conn.execute("create schema if not exists recon_store")
        scratch.conn.execute("drop table if exists recon_store.run_marks")
        reconcile(incremental.conn, as_of, RULES, "r")
        reconcile(scratch.conn, as_of, RULES, "r")
        assert _outputs(incremental) == _outputs(scratch)
        if store_decisions:
            _store_decisions(incremental, as_of)
            _store_decisions(scratch, as_of)
    for table in (t for t in TABLES if t != "run_marks"):  # dropped by the scratch runs
        query = f"select * exclude (run_id) from recon_store.{table} order by all"
        assert incremental.rows(query) == scratch.rows(query)


def test_copies_are_rebuilt_when_the_store_is_not_the_one_they_were_taken_from():
    s = Store()
    s.payout("po_1", MON, 5000)
    reconcile(s.conn, MON, RULES, "r")
    # The store is replaced by another with as many events: the watermark no longer agrees.
    s.conn.execute("update store.events set chain_hash = 'other'")
    s.conn.execute("update store.events set payload = replace(payload, '5000', '6000')")
    reconcile(s.conn, MON, RULES, "r")
    assert s.rows("select amount_minor from recon_cache.payouts") == [(6000,)]
    missing = "select amount_minor from recon_store.discrepancies where type = 'missing_in_bank'"
    assert s.rows(missing) == [(6000,)]
