"""An incremental ledger run gives exactly the tables a full rebuild gives.

Built day by day (with late events, a rates file landing days late, a rate correction), the
ledger must equal one full rebuild of the same store, table by table, row for row.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import duckdb
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from billing_pipeline.recon import load_rules, reconcile
from billing_pipeline.sample import generate_world
from billing_pipeline.warehouse import ledger as ledger_module
from billing_pipeline.warehouse import ledger_delta as ledger_delta_module
from billing_pipeline.warehouse import ledger_keys, ledger_writes
from billing_pipeline.warehouse.event_store import append_decisions, append_partition
from billing_pipeline.warehouse.journal import FACT_EVENTS_SQL, build_facts, post_entries
from billing_pipeline.warehouse.landing import SOURCES, land_partition
from billing_pipeline.warehouse.ledger import (
    chunk_ends,
    journal_rebuilds_identically,
    rate_book,
    rebuild_ledger,
)
from billing_pipeline.warehouse.ledger_keys import KEYS
from billing_pipeline.warehouse.ledger_scope import LEDGER_QUARANTINE_EVENTS_BY_CONTENT
from billing_pipeline.warehouse.lifecycles import fold_all
from tests.warehouse.test_ledger_properties import DAYS, _lines, event

NOW = datetime(2026, 11, 10, tzinfo=UTC)
TABLES = ("journal_lines", "payment_states", "payment_history", "invoice_states",
          "invoice_history")  # fmt: skip
# quarantined_at and run_id say when a row was (re)written: a full rebuild rewrites them all.
QUARANTINE = (
    "select file_id, source, partition_date, path, line_no, stage, reason, raw_record "
    "from ingest.quarantine where stage = 'ledger'"
)


def snapshot(conn: duckdb.DuckDBPyConnection) -> dict[str, Counter]:
    tables = {t: Counter(conn.sql(f"select * from ledger_store.{t}").fetchall()) for t in TABLES}
    # The index of the ledger's quarantine rows names exactly the events they are about.
    index = "select seq, reason from ledger_store.quarantined_events"
    indexed = Counter(conn.sql(index).fetchall())
    by_content = f"select seq, reason from ({LEDGER_QUARANTINE_EVENTS_BY_CONTENT})"
    assert indexed == Counter(conn.sql(by_content).fetchall())
    return {**tables, "quarantine": Counter(conn.sql(QUARANTINE).fetchall())}


def assert_lines_name_their_events_lineage(conn: duckdb.DuckDBPyConnection) -> None:
    """Every journal line, derived ones included, names its event's partition, line and file
    (the path it was landed under)."""
    wrong, joined, lines = conn.execute(
        """
        select count(*) filter (where l.partition_date is distinct from e.partition_date
                                   or l.source_line is distinct from e.source_line
                                   or l.source_file is distinct from coalesce(r.path, e.file_id)),
               count(*), (select count(*) from ledger_store.journal_lines)
        from ledger_store.journal_lines l
        join store.events e on e.idempotency_key = l.event_id
        left join (select file_id, min(path) as path from ingest.file_registry
                   where status = 'landed' group by file_id) r using (file_id)
        """
    ).fetchone()
    assert (wrong, joined) == (0, lines) and lines, (wrong, joined, lines)


def assert_same(incremental: dict[str, Counter], full: dict[str, Counter]) -> None:
    for table in full:
        extra, missing = incremental[table] - full[table], full[table] - incremental[table]
        assert not extra and not missing, (table, list(extra)[:3], list(missing)[:3])


def _land(conn, inbox, source, day):
    land_partition(conn, inbox, source, day, "land", NOW)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("incremental_world")
    start, end = date(2026, 10, 28), date(2026, 11, 3)  # across a month end
    generate_world(root / "inbox", root / "truth", start, end, payments_per_day=30, seed=11)
    return root / "inbox", [start + timedelta(days=i) for i in range((end - start).days + 1)]


def test_day_by_day_with_late_events_and_rates_equals_full_rebuild(world):
    inbox, days = world
    conn = duckdb.connect()
    rules = load_rules("config/recon_rules.yml")
    late_events, late_rates = days[2], days[1]
    modes = []
    for index, day in enumerate(days):
        for source in SOURCES:
            if (source, day) not in {("events", late_events), ("rates", late_rates)}:
                _land(conn, inbox, source, day)
        if index == 4:  # two days late: events of aggregates already folded, old dates
            _land(conn, inbox, "events", late_events)
            append_partition(conn, late_events, "UTC", "store", NOW)
        append_partition(conn, day, "UTC", "store", NOW)
        reconcile(conn, day, rules, "recon")
        append_decisions(conn, day, "recon", NOW)
        report = rebuild_ledger(conn, "USD", "half_even", f"day{index}", NOW)
        modes.append(report.mode)
        assert journal_rebuilds_identically(conn, "USD", "half_even")
    assert modes[0] == "full" and modes[1:].count("incremental") >= 4, modes
    # Month-end revaluations summed incrementally (in SQL) equal those a rebuild posts.
    incremental = snapshot(conn)
    assert any(line[1] == "fx.revaluation" for line in incremental["journal_lines"])
    assert_lines_name_their_events_lineage(conn)
    rebuild_ledger(conn, "USD", "half_even", "full", NOW, full=True)
    assert_same(incremental, snapshot(conn))
    assert_lines_name_their_events_lineage(conn)
    _land(conn, inbox, "rates", late_rates)
    last = rebuild_ledger(conn, "USD", "half_even", "rates", NOW)
    incremental = snapshot(conn)
    full = rebuild_ledger(conn, "USD", "half_even", "full", NOW, full=True)
    assert full.mode == "full"
    assert (last.lines, last.entries, last.payments, last.invoices) == (
        full.lines, full.entries, full.payments, full.invoices,
    )  # fmt: skip
    assert incremental["journal_lines"]
    assert_same(incremental, snapshot(conn))


def test_a_corrected_rate_in_use_forces_a_full_rebuild(fx_world_copy):
    conn = fx_world_copy
    day, _ = conn.execute(
        "select effective_date, currency from ledger_store.journal_lines "
        "where currency = 'EUR' and fact_type not like 'fx.%' limit 1"
    ).fetchone()
    conn.execute(
        "insert into raw.rates by name select * replace ($day as rate_date, 'EUR' as "
        "base_currency, 'USD' as quote_currency, '1.2345' as rate, "
        "partition_date + 30 as partition_date) from raw.rates limit 1",
        {"day": day},
    )
    report = rebuild_ledger(conn, "USD", "half_even", "rates", NOW)
    assert report.mode == "full" and "rates changed" in report.reason, report
    assert conn.execute(
        "select count(*) from ledger_store.journal_lines where rate = '1.2345'"
    ).fetchone()[0]


def test_a_crash_mid_write_leaves_the_previous_ledger(fx_world_copy, monkeypatch):
    conn = fx_world_copy
    conn.execute("delete from ledger_store.build_state")
    rebuild_ledger(conn, "USD", "half_even", "base", NOW)
    before = snapshot(conn)
    state = conn.execute("select * from ledger_store.build_state").fetchall()
    conn.execute(
        "insert into store.events by name select * replace (seq + 1000000 as seq, "
        "idempotency_key || '-late' as idempotency_key) from store.events "
        "where event_type = 'payment.refunded' limit 1"
    )

    def boom(*_, **__):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ledger_writes, "_quarantine", boom)
    with pytest.raises(RuntimeError):
        rebuild_ledger(conn, "USD", "half_even", "crash", NOW)
    assert_same(snapshot(conn), before)
    assert conn.execute("select * from ledger_store.build_state").fetchall() == state


def test_a_ledger_written_before_the_quarantine_index_gets_it_on_its_next_run(fx_world_copy):
    conn = fx_world_copy
    indexed = conn.execute("select count(*) from ledger_store.quarantined_events").fetchall()[0][0]
    assert indexed > 0  # the world has refused events and unpostable facts
    conn.execute("drop table ledger_store.quarantined_events")
    conn.execute(
        "insert into store.events by name select * replace (seq + 1000000 as seq, "
        "idempotency_key || '-late' as idempotency_key) from store.events "
        "where event_type = 'payment.refunded' limit 1"
    )

    assert rebuild_ledger(conn, "USD", "half_even", "late", NOW).mode == "incremental"
    incremental = snapshot(conn)  # asserts the index names exactly the quarantined events
    rebuild_ledger(conn, "USD", "half_even", "full", NOW, full=True)
    assert_same(incremental, snapshot(conn))


def test_a_stop_while_indexing_the_quarantine_leaves_no_index_to_trust(fx_world_copy, monkeypatch):
    conn = fx_world_copy
    conn.execute("drop table ledger_store.quarantined_events")

    def boom(*_, **__):
        raise RuntimeError("killed")

    monkeypatch.setattr(ledger_module, "index_quarantine", boom)
    with pytest.raises(RuntimeError):
        ledger_module.ensure_ledger(conn)
    monkeypatch.undo()
    ledger_module.ensure_ledger(conn)  # the next run creates and fills it

    assert conn.execute("select count(*) from ledger_store.quarantined_events").fetchall()[0][0]
    snapshot(conn)  # asserts the index names exactly the quarantined events


@pytest.mark.parametrize(
    "tamper",
    [
        "update ledger_store.journal_lines set debit_minor = debit_minor + 1 "
        "where rowid = (select min(rowid) from ledger_store.journal_lines where debit_minor > 0 "
        "and fact_type like 'payment.%')",
        "delete from ledger_store.journal_lines where rowid = (select max(rowid) "
        "from ledger_store.journal_lines where fact_type = 'fx.revaluation')",
        "update ledger_store.payment_states set state = 'voided' "
        "where payment_id = (select min(payment_id) from ledger_store.payment_states)",
        "delete from ledger_store.invoice_history where rowid = "
        "(select min(rowid) from ledger_store.invoice_history)",
    ],
)
def test_the_rebuild_check_fails_on_a_wrong_row_after_an_incremental_run(fx_world_copy, tamper):
    conn = fx_world_copy
    conn.execute(
        "insert into store.events by name select * replace (seq + 1000000 as seq, "
        "idempotency_key || '-late' as idempotency_key) from store.events "
        "where event_type = 'payment.refunded' limit 1"
    )
    assert rebuild_ledger(conn, "USD", "half_even", "late", NOW).mode == "incremental"
    assert journal_rebuilds_identically(conn, "USD", "half_even")
    conn.execute(tamper)
    assert not journal_rebuilds_identically(conn, "USD", "half_even")


@pytest.fixture
def fx_world_copy(fx_world_module):
    conn = duckdb.connect()
    conn.execute(f"attach '{fx_world_module}' as src (read_only)")
    conn.execute("copy from database src to memory")
    conn.execute("detach src")
    return conn


@pytest.fixture(scope="module")
def fx_world_module(tmp_path_factory, world):
    inbox, days = world
    path = tmp_path_factory.mktemp("fx_db") / "ledger.duckdb"
    conn = duckdb.connect(str(path))
    for day in days:
        for source in SOURCES:
            _land(conn, inbox, source, day)
        append_partition(conn, day, "UTC", "store", NOW)
    rebuild_ledger(conn, "USD", "half_even", "base", NOW)
    conn.close()
    return path


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=st.lists(event, min_size=1, max_size=25),
    day_order=st.permutations([0, 1, 2]),
)
def test_any_arrival_order_incremental_equals_full(tmp_path_factory, events, day_order):
    _assert_incremental_days_equal_full(tmp_path_factory.mktemp("inbox"), _lines(events), day_order)


def _assert_incremental_days_equal_full(
    inbox, files: dict[int, list[str]], day_order, chunk_events: int | None = None
) -> None:
    """Land each day's event lines in `day_order`, building the ledger incrementally after
    each (in chunks of `chunk_events` new events, if given); the result equals a full
    rebuild made at once."""
    for day_index, lines in files.items():
        folder = inbox / "events" / DAYS[day_index].isoformat()
        folder.mkdir(parents=True)
        (folder / "events.jsonl").write_text("\n".join(lines) + "\n")
    conn = duckdb.connect()
    for day_index in day_order:
        land_partition(conn, inbox, "events", DAYS[day_index], "run", NOW)
        append_partition(conn, DAYS[day_index], "UTC", "run", NOW)
        rebuild_ledger(conn, "USD", "half_even", "run", NOW, chunk_events=chunk_events)
        assert journal_rebuilds_identically(conn, "USD", "half_even")
    incremental = snapshot(conn)
    rebuild_ledger(conn, "USD", "half_even", "full", NOW, full=True, chunk_events=10**9)
    assert_same(incremental, snapshot(conn))
    if chunk_events is not None:  # a rebuild in chunks, from an empty ledger
        rebuild_ledger(conn, "USD", "half_even", "full", NOW, full=True, chunk_events=chunk_events)
        assert journal_rebuilds_identically(conn, "USD", "half_even")
        assert_same(snapshot(conn), incremental)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=st.lists(event, min_size=1, max_size=25),
    day_order=st.permutations([0, 1, 2]),
    chunk_events=st.integers(1, 8),
)
def test_a_ledger_folded_in_chunks_of_any_size_equals_one_folded_at_once(
    tmp_path_factory, events, day_order, chunk_events
):
    _assert_incremental_days_equal_full(
        tmp_path_factory.mktemp("inbox"), _lines(events), day_order, chunk_events
    )


def test_catching_up_folds_no_more_new_events_at_a_time_than_the_chunk(fx_world_copy, monkeypatch):
    """Memory is bounded by the chunk: every delta sees at most that many new events, the
    store as it stood at its last one, and the build state moves with each chunk."""
    conn = fx_world_copy
    (events,) = conn.execute("select count(*) from store.events").fetchone()
    windows, seen = [], []
    compute = ledger_delta_module.compute_delta

    def recording(conn, book, functional, rule, since, upto, **options):
        windows.append((since, upto))
        seen.append(conn.execute(f"select max(seq) from {KEYS}").fetchone()[0])
        return compute(conn, book, functional, rule, since, upto, **options)

    monkeypatch.setattr(ledger_module, "compute_delta", recording)
    chunk = events // 3 + 1
    report = rebuild_ledger(conn, "USD", "half_even", "chunks", NOW, full=True, chunk_events=chunk)
    assert [upto for _, upto in windows] == [events // 3, 2 * events // 3, events]
    assert all(upto - since <= chunk for since, upto in windows)
    assert seen == [upto for _, upto in windows]
    assert report.mode == "full" and "3 chunks" in report.reason
    assert conn.execute("select folded_seq from ledger_store.build_state").fetchall() == [(events,)]


def test_a_catch_up_in_chunks_revalues_once_and_ends_with_the_revaluations_of_one_fold(
    fx_world_copy, monkeypatch
):
    """Month-end revaluations sum the whole journal: a run in chunks recomputes them in its
    last chunk only, and ends with exactly those a fold of everything at once books."""
    conn = fx_world_copy
    (events,) = conn.execute("select count(*) from store.events").fetchone()
    calls = []
    revaluation = ledger_delta_module._revaluation

    def counting(*args):
        calls.append(args)
        return revaluation(*args)

    monkeypatch.setattr(ledger_delta_module, "_revaluation", counting)
    rebuild_ledger(conn, "USD", "half_even", "chunks", NOW, full=True, chunk_events=events // 3 + 1)
    revaluations = (
        "select * from ledger_store.journal_lines "
        "where fact_type like 'fx.revaluation%' order by fact_id, line_no"
    )
    quarantined = (
        "select raw_record, reason from ingest.quarantine where stage = 'ledger' order by all"
    )
    chunked = conn.execute(revaluations).fetchall(), conn.execute(quarantined).fetchall()
    assert len(calls) == 1
    assert chunked[0], "the world crosses a month end with foreign balances"
    rebuild_ledger(conn, "USD", "half_even", "at once", NOW, full=True, chunk_events=10**9)
    assert (conn.execute(revaluations).fetchall(), conn.execute(quarantined).fetchall()) == chunked


@given(since=st.integers(0, 10**7), new=st.integers(0, 10**7), chunk=st.integers(1, 3 * 10**6))
def test_chunks_are_as_few_as_the_cap_allows_and_equal_within_one_event(since, new, chunk):
    assume(new <= 1_000 * chunk)  # (a list of ends per event would only make the test slow)
    ends = chunk_ends(since, since + new, chunk)
    sizes = [upto - low for low, upto in zip([since, *ends], ends, strict=False)]
    assert ends[-1] == since + new and ends == sorted(ends)
    assert len(ends) == max(1, -(-new // chunk))  # fewer would exceed the cap
    assert max(sizes) <= chunk and max(sizes) - min(sizes) <= 1


# Events as `event` draws them, plus payments without id (the one key whose fold reads
# payloads, not the typed copies) and event ids used twice (the store keeps the first copy).
odd_event = st.fixed_dictionaries(
    {
        **event.wrapped_strategy.mapping,
        "payment": st.sampled_from(["pay_a", "pay_b", None, ""]),
        "reuse": st.sampled_from([None, None, 0, 1]),  # the id of an earlier event, if any
    }
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=st.lists(odd_event, min_size=1, max_size=25),
    day_order=st.permutations([0, 1, 2]),
)
def test_missing_payment_ids_and_reused_event_ids_incremental_equals_full(
    tmp_path_factory, events, day_order
):
    files = _lines(events)
    for lines in files.values():
        for index, line in enumerate(lines):
            body = json.loads(line)
            reuse = events[int(body["event_id"][4:])]["reuse"]
            if reuse is not None and reuse < int(body["event_id"][4:]):
                lines[index] = json.dumps({**body, "event_id": f"evt_{reuse:04d}"})
    _assert_incremental_days_equal_full(tmp_path_factory.mktemp("inbox"), files, day_order)


def test_facts_need_no_events_but_those_fact_events_sql_names(fx_world_copy):
    """An incremental run copies only `FACT_EVENTS_SQL`'s events of those it re-posts."""
    conn = fx_world_copy
    folded = fold_all(conn)
    ledger_keys.refresh(conn)
    named = f"(select * from {KEYS} where {FACT_EVENTS_SQL})"
    every, only_named = build_facts(conn, folded), build_facts(conn, folded, events=named)
    others = f"select count(*) from store.events where not {FACT_EVENTS_SQL}"
    assert every.height and conn.execute(others).fetchone()[0]
    assert every.sort(every.columns).equals(only_named.sort(only_named.columns))


def test_posting_facts_in_batches_gives_the_entries_posting_them_at_once_gives(fx_world_copy):
    conn = fx_world_copy
    facts = build_facts(conn, fold_all(conn))
    book, _ = rate_book(conn)
    whole = post_entries(facts, book, "USD", "half_even", batch=10**9)
    batched = post_entries(facts, book, "USD", "half_even", batch=7)
    assert facts.height > 7 * 3 and whole[0].height > facts.height
    for one, other in zip(whole, batched, strict=True):
        assert one.sort(one.columns).equals(other.sort(one.columns).select(one.columns))


def test_a_revaluation_without_a_rate_is_quarantined_under_an_event_the_run_did_not_touch(
    tmp_path,
):
    """A month end with no usable rate for a balance quarantines the revaluation under the
    balance's last event, which the incremental run that revalues may never have read: its
    file and line are found all the same, as a rebuild finds them."""
    inbox = tmp_path / "inbox"
    october, november = date(2026, 10, 20), date(2026, 11, 2)
    common = {"customer_id": "cus_1", "amount_minor": 12_345, "processor": "stripe"}

    def steps(payment, currency, day, kinds):
        return [
            {**common, "payment_id": payment, "currency": currency,
             "processor_ref": f"ch_{payment}", "event_id": f"evt_{payment}_{kind}",
             "type": f"payment.{kind}",
             "occurred_at": f"{day}T0{hour}:00:00+00:00"}
            for hour, kind in enumerate(kinds)
        ]  # fmt: skip

    kinds = ("created", "authorized", "captured")
    # A KWD capture in October, then a USD one that takes the journal past the month end.
    days = {
        october: steps("pay_k", "KWD", october, kinds),
        november: steps("pay_u", "USD", november, kinds),
    }
    for day, events in days.items():
        folder = inbox / "events" / day.isoformat()
        folder.mkdir(parents=True)
        (folder / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    # KWD has no ECB rate: this file's is the only one, 11 days old at the month end.
    rates = inbox / "rates" / october.isoformat()
    rates.mkdir(parents=True)
    (rates / "rates.csv").write_text(
        "date,base_currency,quote_currency,rate\n2026-10-20,EUR,KWD,0.344145\n"
    )
    conn = duckdb.connect()
    for day in days:
        for source in ("events", "rates"):
            land_partition(conn, inbox, source, day, "run", NOW)
        append_partition(conn, day, "UTC", "run", NOW)
        report = rebuild_ledger(conn, "USD", "half_even", "run", NOW)
    assert report.mode == "incremental"
    quarantined = conn.execute(
        "select file_id, line_no from ingest.quarantine "
        "where reason like 'posting: no functional amount: fx revaluation 2026-10-31%'"
    ).fetchall()
    capture = conn.execute(
        "select file_id, source_line from store.events where idempotency_key = 'evt_pay_k_captured'"
    ).fetchall()
    assert quarantined == capture
    incremental = snapshot(conn)
    rebuild_ledger(conn, "USD", "half_even", "full", NOW, full=True)
    assert_same(incremental, snapshot(conn))
