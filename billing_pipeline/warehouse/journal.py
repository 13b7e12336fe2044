"""From the event store to a balanced journal: facts, posting rules, functional amounts.

The journal is a projection: rebuilt from `store.events` (and the lifecycle folds over it) on
every run, in a fixed order, so the same store always gives the same journal, byte for byte.
Every fact the folds accepted becomes one entry through the posting rules (`domain.posting`);
every line gets its functional-currency amount at the rate of its effective date
(`domain.fx`), with a rounding line where per-line rounding leaves a residue.
"""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from billing_pipeline.domain import accounts
from billing_pipeline.domain.fx import RateBook, RateError, RateQuote
from billing_pipeline.domain.posting import post_frame
from billing_pipeline.domain.rounding import RoundingRule
from billing_pipeline.warehouse import fx_postings, ledger_keys
from billing_pipeline.warehouse.fx_convert import convert_columns
from billing_pipeline.warehouse.fx_items import CLEARING_ITEMS_SQL as _CLEARING_ITEMS
from billing_pipeline.warehouse.fx_items import PAYOUT_ITEM_SQL as _PAYOUT_ITEM
from billing_pipeline.warehouse.fx_items import with_items
from billing_pipeline.warehouse.lifecycles import Folded
from billing_pipeline.warehouse.tables import query_frame

# Bank transaction codes that mean "the bank charged us" (BAI2 fee codes, SWIFT :61: type
# codes, ISO 20022 sub-family CHRG): such debits are bank fees, not unexplained money.
BANK_FEE_CODES = ("CHG", "NCHG", "FCHG", "NCOM", "FCOM", "698", "699", "CHRG")

_LINEAGE = ", ".join(fx_postings.LINEAGE)
# Reads typed columns of the events (`ledger_keys`: the payload fields, parsed once per event).
# Every fact carries its event's lineage (`fx_postings.LINEAGE`): the file a line came from is
# the path it was landed under (its id when the registry has none).
_FACT_SQL = f"""
with events as (
    select e.*, coalesce(r.path, e.file_id) as source_file from __EVENTS__ e
    left join (select file_id, min(path) as path from ingest.file_registry
               where status = 'landed' group by file_id) r using (file_id)
),
settlement as (
    select idempotency_key, business_date, processor, processor_ref, line_type, payout_ref,
           currency, original_currency, gross_minor, original_minor, {_LINEAGE},
           row_number() over (
               partition by processor, processor_ref, line_type
               order by occurred_at, idempotency_key) as nth
    from events where event_type like 'settlement.%'
),
{_CLEARING_ITEMS}
select idempotency_key as event_id, event_type as fact_type, business_date as effective_date,
       currency, amount_minor, invoice_id, processor, '' as suffix, {_LINEAGE},
       i.clearing_item
from events left join payment_items i using (idempotency_key)
where event_type in ('payment.captured', 'payment.refunded', 'payment.dispute_opened',
                     'payment.dispute_won', 'invoice.sent', 'invoice.voided',
                     'invoice.written_off', 'invoice.credit_note_issued')
union all by name
select idempotency_key as event_id, 'settlement.fee' as fact_type,
       business_date as effective_date, currency,
       case when line_type = 'fee' then -net_minor else fee_minor end as fee_minor,
       processor, '#fee' as suffix, {_LINEAGE},
       {_PAYOUT_ITEM} as clearing_item
from events
where event_type like 'settlement.%' and event_type != 'settlement.adjustment'
union all by name
-- A line settled in another currency than its charge moves the charge across (posting.py).
select idempotency_key as event_id, 'settlement.conversion' as fact_type,
       business_date as effective_date, currency, gross_minor, original_currency,
       original_minor, processor, '#fx' as suffix, {_LINEAGE},
       'payout:' || processor || ':' || payout_ref as clearing_item,
       'charge:' || processor || ':' || processor_ref as charge_item
from settlement
where line_type not in ('fee', 'adjustment') and original_currency != currency
union all by name
select idempotency_key as event_id, 'settlement.adjustment' as fact_type,
       business_date as effective_date, currency, net_minor as amount_minor,
       processor, '' as suffix, {_LINEAGE},
       {_PAYOUT_ITEM} as clearing_item
from events where event_type = 'settlement.adjustment'
union all by name
select idempotency_key as event_id, 'payout.sent' as fact_type,
       business_date as effective_date, currency, amount_minor, processor, '' as suffix,
       {_LINEAGE}, {_PAYOUT_ITEM} as clearing_item, {_PAYOUT_ITEM} as transit_item
from events where event_type = 'payout.sent'
union all by name
select idempotency_key as event_id,
       case when event_type = 'bank.credit' then 'bank.unexplained_credit'
            when upper(coalesce(tx_code, '')) in {BANK_FEE_CODES}
              or upper(coalesce(tx_code, '')) like '%/CHRG%' then 'bank.fee'
            else 'bank.unexplained_debit' end as fact_type,
       business_date as effective_date, currency, abs(amount_minor) as amount_minor,
       account_id as bank_account, '' as suffix, {_LINEAGE},
       idempotency_key as suspense_item
from events where event_type in ('bank.credit', 'bank.debit')
union all by name
select idempotency_key as event_id, event_type as fact_type,
       business_date as effective_date, currency, amount_minor, processor,
       account_id as bank_account, holding_account, '' as suffix, {_LINEAGE},
       invoice_id,
       case when event_type = 'recon.payout_matched' then {_PAYOUT_ITEM} end as transit_item,
       bank_line_key as suspense_item
from events
where event_type in ('recon.payout_matched', 'recon.cash_applied', 'recon.write_off')
"""

# Every event `_FACT_SQL` reads: a fact of its own, a settlement line or a payment move an
# item is matched against. An incremental run copies only these of the events it re-posts
# (`ledger_scope`); tests/warehouse/test_ledger_incremental.py checks nothing else counts.
FACT_EVENTS_SQL = """(event_type like 'settlement.%' or event_type in (
    'payment.captured', 'payment.refunded', 'payment.dispute_opened', 'payment.dispute_won',
    'invoice.sent', 'invoice.voided', 'invoice.written_off', 'invoice.credit_note_issued',
    'payout.sent', 'bank.credit', 'bank.debit',
    'recon.payout_matched', 'recon.cash_applied', 'recon.write_off'))"""

_SOURCES = """
select e.idempotency_key as event_id, e.partition_date, e.source_line,
       coalesce(r.path, e.file_id) as source_file
from __EVENTS__ e
semi join journal_source_ids i on i.event_id = e.idempotency_key
left join (select file_id, min(path) as path from ingest.file_registry
           where status = 'landed' group by file_id) r using (file_id)
"""


def build_facts(
    conn: duckdb.DuckDBPyConnection, folded: Folded, events: str | None = None
) -> pl.DataFrame:
    """One row per fact to post: accepted lifecycle events and every other source fact.

    Settlement conversions are facts here; FX gain/loss entries need the converted lines,
    so `post_and_convert` derives them (`fx_postings`). Each fact carries the keys of the
    open items its lines touch (`fx_items`). `events` is the relation facts are read from
    (an incremental run passes the events it re-posts plus those their items depend on), in
    the typed columns of `ledger_keys`; without it, every stored event's.
    """
    if events is None:
        ledger_keys.refresh(conn)
        events = ledger_keys.KEYS
    facts = query_frame(conn, _FACT_SQL.replace("__EVENTS__", events)).with_columns(
        pl.col("source_file").cast(fx_postings.SOURCE_FILE)
    )
    schema = {"event_id": pl.Utf8, "receivable_down": pl.Int64, "credit_up": pl.Int64}
    effects = pl.concat(
        [
            pl.DataFrame(
                [(k, -r, c) for k, (r, c) in folded.invoice_effects.items()],
                schema=schema,
                orient="row",
            ),
            *(
                frame.select(
                    "event_id",
                    receivable_down=-pl.col("receivable_delta_minor"),
                    credit_up="customer_credit_delta_minor",
                ).cast(schema)
                for frame in folded.invoice_effect_frames
            ),
        ]
    )
    # Membership only: unsorted (sorting 500k ids cost a second).
    accepted = pl.concat(
        [
            pl.Series(list(folded.accepted_payment_events), dtype=pl.Utf8),
            *(frame["event_id"].cast(pl.Utf8) for frame in folded.accepted_payment_frames),
        ]
    )
    invoice_accepted = effects["event_id"]
    facts = facts.join(effects, on="event_id", how="left")
    is_payment = pl.col("fact_type").str.starts_with("payment.")
    is_invoice = pl.col("fact_type").str.starts_with("invoice.")
    facts = facts.filter(
        (~is_payment | pl.col("event_id").is_in(accepted.implode()))
        & (~is_invoice | pl.col("event_id").is_in(invoice_accepted.implode()))
    )
    # What an invoice event did to the receivable is what it posts (a void of a draft: 0).
    receivable_down = pl.col("receivable_down").fill_null(0)
    amount = (
        pl.when(pl.col("fact_type") == "invoice.sent")
        .then(-pl.col("receivable_down"))
        .when(pl.col("fact_type").is_in(["invoice.voided", "invoice.written_off"]))
        .then(pl.col("receivable_down"))
        .otherwise(pl.col("amount_minor"))
    )
    # How much of a payment or credit note reduced the receivable is the invoice fold's call
    # (never negative receivables); the rest is customer credit. A payment whose application
    # the fold refused (a void invoice) is all customer credit.
    applying = ["payment.captured", "invoice.credit_note_issued", "recon.cash_applied"]
    applied = pl.when(pl.col("fact_type").is_in(applying)).then(receivable_down)
    overpaid = pl.when(pl.col("fact_type").is_in(applying)).then(
        pl.col("amount_minor") - receivable_down
    )
    return facts.with_columns(
        fact_id=pl.col("event_id") + pl.col("suffix"),
        amount_minor=amount,
        applied_minor=applied,
        overpaid_minor=overpaid,
    ).drop("receivable_down", "credit_up", "suffix")


def post_and_convert(
    conn: duckdb.DuckDBPyConnection,
    facts: pl.DataFrame,
    book: RateBook,
    functional: str,
    rule: RoundingRule,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(journal lines with functional amounts, open item and lineage, problems per event).

    `fx_item` is the open item a line on a monetary account opens or closes (`fx_items`);
    an `fx.realized` line carries the item it closed; other lines have none.

    After posting and conversion come the FX entries (`fx_postings`): each conversion's
    spread, realized results of closed items, month-end revaluations and their reversals.
    """
    lines, problems = post_entries(facts, book, functional, rule)
    realized = fx_postings.realized_lines(lines, functional, lines.columns)
    lines = pl.concat([lines, realized], how="vertical_relaxed")
    revalued, revaluation_problems = fx_postings.revaluation_lines(lines, book, functional, rule)
    # A revaluation names the last line's event: a few rows a month, looked up.
    revalued = with_sources(conn, revalued.drop(fx_postings.LINEAGE)).select(lines.columns)
    lines = pl.concat([lines, revalued], how="vertical_relaxed")
    lines = lines.sort("effective_date", "fact_id", "line_no")
    problems = pl.concat([problems, revaluation_problems])
    return lines, with_sources(conn, problems)


def with_sources(
    conn: duckdb.DuckDBPyConnection, frame: pl.DataFrame, events: str = "store.events"
) -> pl.DataFrame:
    """`frame` plus the lineage of its `event_id`: partition date, source line and file, read
    from `events` (a copy of the store's rows that holds every one of them, or the store)."""
    ids = frame.select("event_id").unique()
    conn.register("journal_source_ids", ids.to_arrow())
    try:
        sources = query_frame(conn, _SOURCES.replace("__EVENTS__", events))
    finally:
        conn.unregister("journal_source_ids")
    sources = sources.with_columns(pl.col("source_file").cast(fx_postings.SOURCE_FILE))
    return frame.join(sources, on="event_id", how="left")


# Facts posted per batch. Posting builds several wide intermediate frames per line (~1.6 KB a
# line at peak); batches keep that transient small while the result is the same.
POST_BATCH = 100_000


def post_entries(
    facts: pl.DataFrame,
    book: RateBook,
    functional: str,
    rule: RoundingRule,
    batch: int = POST_BATCH,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(each fact's own entry, converted, with its rounding and spread lines and `fx_item`;
    problems: event_id, reason). Per fact: an entry depends on its fact and the rates only,
    so facts are posted `batch` at a time."""
    if facts.height <= batch:
        return _post_batch(facts, book, functional, rule)
    posted = [_post_batch(part, book, functional, rule) for part in facts.iter_slices(batch)]
    return (
        pl.concat([lines for lines, _ in posted], how="vertical_relaxed"),
        pl.concat([problems for _, problems in posted], how="vertical_relaxed"),
    )


def _post_batch(
    facts: pl.DataFrame, book: RateBook, functional: str, rule: RoundingRule
) -> tuple[pl.DataFrame, pl.DataFrame]:
    # Lines carry their fact's row (`fact_row`) until the end: the fact's other columns are
    # gathered by it, where joins on the fact's text id cost seconds a million facts.
    lines, problems = post_frame(facts, row_column="fact_row")
    rows = lines.get_column("fact_row")
    lines = lines.with_columns(
        facts.get_column(name).gather(rows)
        for name in ("event_id", "effective_date", *fx_postings.LINEAGE)
    )
    quotes, rate_problems = _quotes(lines, book, functional)
    if rate_problems.height:
        lines = lines.join(rate_problems.select("fact_id").unique(), on="fact_id", how="anti")
    lines = _functional_amounts(lines, quotes, functional, rule)
    lines = _with_rounding_lines(lines, functional)
    spread = fx_postings.spread_lines(lines.drop("fact_row"), functional)
    lines = pl.concat(
        [lines, spread.with_columns(fact_row=pl.lit(None, dtype=pl.UInt32)).select(lines.columns)],
        how="vertical_relaxed",
    )
    lines = with_items(lines, facts).drop("fact_row")
    meta = facts.select("fact_id", "event_id")
    problems = pl.concat(
        [
            problems.join(meta, on="fact_id", how="left").select("event_id", "reason"),
            rate_problems.select("event_id", "reason"),
        ]
    )
    return lines, problems


def _quotes(lines: pl.DataFrame, book: RateBook, functional: str):
    pairs = lines.select("effective_date", "currency").unique().sort("effective_date", "currency")
    quotes: dict[tuple[date, str], RateQuote] = {}
    missing: dict[tuple[date, str], str] = {}
    for on, currency in pairs.iter_rows():
        try:
            quotes[(on, currency)] = book.rate(on, currency, functional)
        except RateError as error:
            missing[(on, currency)] = str(error)
    rate_problems = (
        lines.filter(
            pl.struct("effective_date", "currency").map_elements(
                lambda s: (s["effective_date"], s["currency"]) in missing, return_dtype=pl.Boolean
            )
        )
        .with_columns(
            reason=pl.struct("effective_date", "currency").map_elements(
                lambda s: f"no functional amount: {missing[(s['effective_date'], s['currency'])]}",
                return_dtype=pl.Utf8,
            )
        )
        .select("fact_id", "event_id", "reason")
        .unique(subset="fact_id", keep="first", maintain_order=True)
        if missing
        else pl.DataFrame(schema={"fact_id": pl.Utf8, "event_id": pl.Utf8, "reason": pl.Utf8})
    )
    return quotes, rate_problems


def _functional_amounts(lines, quotes, functional: str, rule: RoundingRule) -> pl.DataFrame:
    """Each line's functional amounts at its quote, set-based (`fx_convert`, exact)."""
    quote_frame = pl.DataFrame(
        [
            (on, currency, str(q.rate), q.rate_date, q.source)
            for (on, currency), q in quotes.items()
        ],
        schema={
            "effective_date": pl.Date,
            "currency": pl.Utf8,
            "rate": pl.Utf8,
            "rate_date": pl.Date,
            "rate_source": pl.Utf8,
        },
        orient="row",
    )
    # Only the columns conversion reads go through the join, in the lines' order.
    converted = convert_columns(
        lines.select("effective_date", "currency", "debit_minor", "credit_minor").join(
            quote_frame, on=["effective_date", "currency"], how="left", maintain_order="left"
        ),
        {"functional_debit_minor": "debit_minor", "functional_credit_minor": "credit_minor"},
        functional,
        rule,
    )
    return lines.with_columns(
        *converted.select(
            "functional_debit_minor", "functional_credit_minor", "rate", "rate_date", "rate_source"
        ).get_columns(),
        functional_currency=pl.lit(functional),
    )


def _with_rounding_lines(lines: pl.DataFrame, functional: str) -> pl.DataFrame:
    """Per-line rounding can leave an entry off balance in the functional currency: book the
    residue to expenses:rounding (zero in the transaction currency) so it balances."""
    residues = (
        lines.group_by("fact_row")
        .agg(
            residue=(pl.col("functional_debit_minor") - pl.col("functional_credit_minor")).sum(),
            line_no=pl.col("line_no").max() + 1,
        )
        .filter(pl.col("residue") != 0)
    )
    # Few entries have a residue: their fact's columns are read off one of their lines.
    entry = ["fact_row", "fact_id", "fact_type", "event_id", "effective_date", "rules_version",
             *fx_postings.LINEAGE]  # fmt: skip
    residues = residues.join(
        lines.filter(pl.col("fact_row").is_in(residues["fact_row"].implode()))
        .select(entry)
        .unique(subset="fact_row"),
        on="fact_row",
    )
    rounding = residues.select(
        *fx_postings.LINEAGE,
        "fact_id",
        "fact_type",
        "line_no",
        account=pl.lit(accounts.ROUNDING),
        currency=pl.lit(functional),
        debit_minor=pl.lit(0, dtype=pl.Int64),
        credit_minor=pl.lit(0, dtype=pl.Int64),
        rules_version="rules_version",
        fact_row="fact_row",
        event_id="event_id",
        effective_date="effective_date",
        functional_debit_minor=pl.when(pl.col("residue") < 0).then(-pl.col("residue")).otherwise(0),
        functional_credit_minor=pl.when(pl.col("residue") > 0).then(pl.col("residue")).otherwise(0),
        rate=pl.lit("1"),
        rate_date="effective_date",
        rate_source=pl.lit("identity"),
        functional_currency=pl.lit(functional),
    )
    return pl.concat([lines, rounding.select(lines.columns)], how="vertical_relaxed")
