"""Posting rules as data, and the pure interpreter that turns one fact into one journal entry.

`RULES` is the single place where the ledger's meaning lives: one row per (fact type, line).
A row says on which side the line's amount goes *when the amount is positive*, to which
account (a template whose `{processor}` / `{bank_account}` parameters are filled from the
fact's fields through `accounts.account_segment`, and whose `{holding_account}` is a full
account path), which amount field of the fact it books, and under which condition it applies.
A negative amount books the same magnitude on the other side, so a negative adjustment or a
reversal books correctly without rules of its own. Zero-amount lines are omitted.

Every line of one fact is in the fact's `currency`. `post` refuses to return an entry that
does not balance per currency or has fewer than two lines. `rules_frame` exports the same rows
so that a set-based engine (DuckDB/Spark) can post millions of facts with one join; a test
proves that join gives exactly what `post` gives.

Choices the design table left open:
- payment.dispute_lost, and the lifecycle facts without money movement (payment.created,
  authorized, failed, voided; invoice.created) post nothing: the funds already left the
  clearing account at dispute_opened. `post` raises `NothingToPost` for them (not
  `UnknownFact`), `post_or_none` returns None.
- invoice.voided must only be posted for an invoice that was sent (a draft never reached
  receivables); its amount_minor is the receivable being reversed (the open amount).
- settlement.adjustment: a processor adjustment changes what the processor relationship costs
  us, so its counter-account is expenses:processor_fees:adjustments. amount_minor > 0 means the
  processor credited our balance (D clearing / C adjustments), < 0 debited it (sides flip).
- recon.write_off: amount_minor is the balance a controller writes off the
  `holding_account` (assets:suspense, assets:processor_clearing:<p>, ...), signed as that
  account's balance: > 0 clears a debit balance (money we expected and will not get: a loss,
  D expenses:reconciliation_write_off / C holding); < 0 clears a credit balance (money we
  got and cannot explain: a gain, D holding / C income:reconciliation_write_off).
- bank.invoice_payment: amount_minor (the bank credit) = applied_minor + overpaid_minor, else
  the entry does not balance and `post` raises `UnbalancedEntry`.
- Line numbers are the rule's line_no (gaps where a zero line was omitted), so every journal
  line traces to the rule row that made it.
- settlement.conversion: a settlement line whose settlement currency differs from the charge
  currency (Stripe customer_facing_currency, Adyen Gross vs Net Currency). The capture sits in
  clearing in the charge currency; the conversion moves it out (original_minor, in
  original_currency) and into clearing in the settlement currency (gross_minor, in currency),
  through the trading account equity:currency_exchange, one pair of lines per currency. So
  the entry balances per currency, and after it, clearing nets to zero per currency for a
  payout. Each rule row names the fact field holding its line's currency (`currency_field`),
  which is how one fact posts in two currencies. The exchange account's functional residue
  (processor rate vs reference rate) is realized FX, booked by `warehouse.fx_postings`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import polars as pl

from billing_pipeline.domain import accounts as acc
from billing_pipeline.domain.money import INT64_MAX, MoneyError, active_currencies, exponent

RULES_VERSION = "posting-rules/2026.2"

Condition = Literal["always", "present", "absent", "positive", "negative"]


@dataclass(frozen=True, slots=True)
class PostingRule:
    fact_type: str
    line_no: int
    side: acc.Side  # side for a positive amount
    account: str  # template, e.g. "assets:processor_clearing:{processor}"
    amount_field: str
    condition: Condition = "always"
    condition_field: str | None = None  # the field `condition` looks at
    currency_field: str = "currency"  # the field holding this line's currency


D, C = acc.Side.DEBIT, acc.Side.CREDIT
CLEARING = acc.PROCESSOR_CLEARING + ":{processor}"
BANK = acc.BANK + ":{bank_account}"
WRITE_OFF_LOSS, WRITE_OFF_GAIN = acc.RECON_WRITE_OFF_LOSS, acc.RECON_WRITE_OFF_GAIN
# The trading account of currency conversions: it holds, per currency, what was converted
# (a position, not money), so it is never revalued; in the functional currency it nets to
# zero once each conversion's spread is realized to income:fx_gain_loss.
CURRENCY_EXCHANGE = acc.validate_account("equity:currency_exchange")
CURRENCY_FIELDS = ("currency", "original_currency")
R = PostingRule

RULES: tuple[PostingRule, ...] = (
    R("invoice.sent", 1, D, acc.RECEIVABLES, "amount_minor"),
    R("invoice.sent", 2, C, acc.REVENUE, "amount_minor"),
    R("invoice.voided", 1, D, acc.REVENUE, "amount_minor"),
    R("invoice.voided", 2, C, acc.RECEIVABLES, "amount_minor"),
    R("invoice.credit_note_issued", 1, D, acc.REVENUE, "amount_minor"),
    R("invoice.credit_note_issued", 2, C, acc.RECEIVABLES, "applied_minor"),
    R("invoice.credit_note_issued", 3, C, acc.CUSTOMER_CREDIT, "overpaid_minor"),
    R("invoice.written_off", 1, D, acc.BAD_DEBT, "amount_minor"),
    R("invoice.written_off", 2, C, acc.RECEIVABLES, "amount_minor"),
    R("payment.captured", 1, D, CLEARING, "amount_minor"),
    R("payment.captured", 2, C, acc.RECEIVABLES, "applied_minor", "present", "invoice_id"),
    R("payment.captured", 3, C, acc.CUSTOMER_CREDIT, "overpaid_minor", "present", "invoice_id"),
    R("payment.captured", 2, C, acc.REVENUE, "amount_minor", "absent", "invoice_id"),
    R("payment.refunded", 1, D, acc.REFUNDS, "amount_minor"),
    R("payment.refunded", 2, C, CLEARING, "amount_minor"),
    R("payment.dispute_opened", 1, D, acc.CHARGEBACKS, "amount_minor"),
    R("payment.dispute_opened", 2, C, CLEARING, "amount_minor"),
    R("payment.dispute_won", 1, D, CLEARING, "amount_minor"),
    R("payment.dispute_won", 2, C, acc.CHARGEBACKS, "amount_minor"),
    R("settlement.fee", 1, D, acc.PROCESSOR_FEES, "fee_minor"),
    R("settlement.fee", 2, C, CLEARING, "fee_minor"),
    R("settlement.conversion", 1, D, CLEARING, "gross_minor"),
    R("settlement.conversion", 2, C, CURRENCY_EXCHANGE, "gross_minor"),
    R(
        "settlement.conversion",
        3,
        D,
        CURRENCY_EXCHANGE,
        "original_minor",
        currency_field="original_currency",
    ),
    R(
        "settlement.conversion",
        4,
        C,
        CLEARING,
        "original_minor",
        currency_field="original_currency",
    ),
    R("settlement.adjustment", 1, D, CLEARING, "amount_minor"),
    R("settlement.adjustment", 2, C, acc.PROCESSOR_ADJUSTMENTS, "amount_minor"),
    R("payout.sent", 1, D, acc.CASH_IN_TRANSIT, "amount_minor"),
    R("payout.sent", 2, C, CLEARING, "amount_minor"),
    R("bank.payout_received", 1, D, BANK, "amount_minor"),
    R("bank.payout_received", 2, C, acc.CASH_IN_TRANSIT, "amount_minor"),
    R("bank.invoice_payment", 1, D, BANK, "amount_minor"),
    R("bank.invoice_payment", 2, C, acc.RECEIVABLES, "applied_minor"),
    R("bank.invoice_payment", 3, C, acc.CUSTOMER_CREDIT, "overpaid_minor"),
    R("bank.unexplained_credit", 1, D, BANK, "amount_minor"),
    R("bank.unexplained_credit", 2, C, acc.SUSPENSE, "amount_minor"),
    R("bank.unexplained_debit", 1, D, acc.SUSPENSE, "amount_minor"),
    R("bank.unexplained_debit", 2, C, BANK, "amount_minor"),
    R("bank.fee", 1, D, acc.BANK_FEES, "amount_minor"),
    R("bank.fee", 2, C, BANK, "amount_minor"),
    # Every bank line first lands in suspense (bank.unexplained_*); reconciliation then moves
    # what it explains out of suspense, so suspense always holds exactly the unexplained lines.
    R("recon.payout_matched", 1, D, acc.SUSPENSE, "amount_minor"),
    R("recon.payout_matched", 2, C, acc.CASH_IN_TRANSIT, "amount_minor"),
    R("recon.cash_applied", 1, D, acc.SUSPENSE, "amount_minor"),
    R("recon.cash_applied", 2, C, acc.RECEIVABLES, "applied_minor"),
    R("recon.cash_applied", 3, C, acc.CUSTOMER_CREDIT, "overpaid_minor"),
    R("recon.write_off", 1, D, WRITE_OFF_LOSS, "amount_minor", "positive", "amount_minor"),
    R("recon.write_off", 1, D, WRITE_OFF_GAIN, "amount_minor", "negative", "amount_minor"),
    R("recon.write_off", 2, C, "{holding_account}", "amount_minor"),
)

# Facts that are known and move no money: nothing to post, nothing to quarantine.
NON_POSTING_FACT_TYPES = frozenset(
    {
        "invoice.created",
        "payment.created",
        "payment.authorized",
        "payment.failed",
        "payment.voided",
        "payment.dispute_lost",
        "payment.settled",
        "payment.reconciled",
    }
)
# Template parameters filled with one segment each, vs. with a whole account path.
SEGMENT_PARAMS = ("processor", "bank_account")
PATH_PARAMS = ("holding_account",)

_RULES_BY_FACT: dict[str, tuple[PostingRule, ...]] = {}
for _rule in RULES:
    _RULES_BY_FACT[_rule.fact_type] = (*_RULES_BY_FACT.get(_rule.fact_type, ()), _rule)
POSTING_FACT_TYPES = tuple(_RULES_BY_FACT)


class PostingError(ValueError):
    """A fact that cannot become a journal entry; the caller quarantines it with this reason."""


class UnknownFact(PostingError):
    """No posting rule knows this fact type."""


class InvalidFact(PostingError):
    """A known fact with a missing or malformed field."""


class UnbalancedEntry(PostingError):
    """The lines do not balance per currency (or are fewer than two)."""


class NothingToPost(PostingError):
    """A known fact that moves no money (or whose amounts are all zero)."""


@dataclass(frozen=True, slots=True)
class Fact:
    fact_type: str
    fields: Mapping[str, object]  # currency, amount fields, template params, condition fields
    fact_id: str | None = None  # the event id / line ref the entry traces to


@dataclass(frozen=True, slots=True)
class JournalLine:
    line_no: int
    account: str
    currency: str
    debit_minor: int
    credit_minor: int


@dataclass(frozen=True, slots=True)
class JournalEntry:
    fact_type: str
    fact_id: str | None
    lines: tuple[JournalLine, ...]
    rules_version: str = RULES_VERSION

    @property
    def imbalances(self) -> dict[str, int]:
        return imbalances(self.lines)


def imbalances(lines: tuple[JournalLine, ...]) -> dict[str, int]:
    """Currency -> debits minus credits, only for currencies that do not balance."""
    totals: dict[str, int] = {}
    for line in lines:
        totals[line.currency] = totals.get(line.currency, 0) + line.debit_minor - line.credit_minor
    return {ccy: total for ccy, total in totals.items() if total != 0}


def check_balanced(entry: JournalEntry) -> JournalEntry:
    if len(entry.lines) < 2:
        raise UnbalancedEntry(f"{entry.fact_type}: an entry needs two or more lines")
    if entry.imbalances:
        raise UnbalancedEntry(f"{entry.fact_type}: debits - credits = {entry.imbalances}")
    if len({line.line_no for line in entry.lines}) != len(entry.lines):
        raise UnbalancedEntry(f"{entry.fact_type}: line numbers repeat")
    return entry


def applies(rule: PostingRule, fields: Mapping[str, object]) -> bool:
    if rule.condition == "always":
        return True
    value = fields.get(rule.condition_field or "")
    present = value is not None and value != ""
    if rule.condition == "present":
        return present
    if rule.condition == "absent":
        return not present
    amount = _amount(fields, rule.condition_field or "", rule.fact_type)
    return amount > 0 if rule.condition == "positive" else amount < 0


def post(fact: Fact) -> JournalEntry:
    """The journal entry for one fact, or a `PostingError` saying why there is none."""
    rules = _RULES_BY_FACT.get(fact.fact_type)
    if rules is None:
        if fact.fact_type in NON_POSTING_FACT_TYPES:
            raise NothingToPost(f"{fact.fact_type} moves no money")
        raise UnknownFact(f"no posting rule for fact type {fact.fact_type!r}")
    _currency(fact, "currency")
    lines = []
    for rule in rules:
        if not applies(rule, fact.fields):
            continue
        currency = _currency(fact, rule.currency_field)
        amount = _amount(fact.fields, rule.amount_field, fact.fact_type)
        if amount == 0:
            continue
        # A negative amount is the same magnitude on the other side.
        on_debit = (rule.side is acc.Side.DEBIT) == (amount > 0)
        magnitude = abs(amount)
        lines.append(
            JournalLine(
                line_no=rule.line_no,
                account=render_account(rule.account, fact.fields, fact.fact_type),
                currency=currency,
                debit_minor=magnitude if on_debit else 0,
                credit_minor=0 if on_debit else magnitude,
            )
        )
    if not lines:
        raise NothingToPost(f"{fact.fact_type}: every amount is zero")
    return check_balanced(JournalEntry(fact.fact_type, fact.fact_id, tuple(lines)))


def post_or_none(fact: Fact) -> JournalEntry | None:
    """`post`, with None for facts that move no money (other errors still raise)."""
    try:
        return post(fact)
    except NothingToPost:
        return None


def render_account(template: str, fields: Mapping[str, object], fact_type: str) -> str:
    account = template
    try:
        for name in SEGMENT_PARAMS:
            if "{" + name + "}" in account:
                account = account.replace("{" + name + "}", acc.account_segment(fields.get(name)))
        for name in PATH_PARAMS:
            if "{" + name + "}" in account:
                account = account.replace("{" + name + "}", acc.validate_account(fields.get(name)))
        return acc.validate_account(account)
    except acc.AccountError as err:
        raise InvalidFact(f"{fact_type}: {err}") from None


def rules_frame() -> pl.DataFrame:
    """The rules as a table, for a set-based posting join (one row per rule row)."""
    return pl.DataFrame(
        {
            "rules_version": [RULES_VERSION] * len(RULES),
            "fact_type": [r.fact_type for r in RULES],
            "line_no": [r.line_no for r in RULES],
            "side": [str(r.side) for r in RULES],
            "account_template": [r.account for r in RULES],
            "amount_field": [r.amount_field for r in RULES],
            "condition": [r.condition for r in RULES],
            "condition_field": [r.condition_field for r in RULES],
            "currency_field": [r.currency_field for r in RULES],
        },
        schema={
            "rules_version": pl.Utf8,
            "fact_type": pl.Utf8,
            "line_no": pl.Int32,
            "side": pl.Utf8,
            "account_template": pl.Utf8,
            "amount_field": pl.Utf8,
            "condition": pl.Utf8,
            "condition_field": pl.Utf8,
            "currency_field": pl.Utf8,
        },
    )


def _currency(fact: Fact, field: str) -> str:
    currency = fact.fields.get(field)
    try:
        exponent(currency)  # type: ignore[arg-type]
    except (MoneyError, TypeError):
        raise InvalidFact(f"{fact.fact_type}: bad currency {currency!r}") from None
    return currency  # type: ignore[return-value]


def _amount(fields: Mapping[str, object], name: str, fact_type: str) -> int:
    value = fields.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidFact(f"{fact_type}: {name} must be integer minor units, got {value!r}")
    if abs(value) > INT64_MAX:
        raise InvalidFact(f"{fact_type}: {name} {value} exceeds 64-bit minor units")
    return value


def post_frame(
    facts: pl.DataFrame, row_column: str | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Set-based `post`: the rules joined to a frame of facts, sides chosen by sign.

    `facts` has one row per fact: fact_id (unique), fact_type, currency, the amount fields
    (Int64, null where a type has none), invoice_id and the template parameters (text, null
    where unused); missing columns count as null. Returns (lines, problems): lines as
    `JournalLine` columns plus fact_id, fact_type, rules_version, in the facts' order; problems
    as fact_id, fact_type, reason for every fact that gave no entry for a reason other than
    moving no money. A fact is posted whole or not at all. With `row_column`, each line also
    carries its fact's row number in `facts` (UInt32) under that name, so a caller can gather
    more of the fact's columns without joining on its id. The same plan translates line for
    line into SQL (a join on fact_type, CASE for condition/amount/side, REPLACE for the
    templates).
    """
    needed = {"fact_type", "invoice_id", *CURRENCY_FIELDS, *SEGMENT_PARAMS, *PATH_PARAMS}
    needed |= {r.amount_field for r in RULES}
    # Only what the rules read goes through the join, keyed by row number: a fact's other
    # columns (its ids among them) would be copied once per rule row and hashed as text.
    narrow = facts.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"),
        *(pl.col(c) for c in sorted(needed & set(facts.columns))),
        *(
            pl.lit(None, dtype=pl.Int64 if c.endswith("_minor") else pl.Utf8).alias(c)
            for c in sorted(needed - set(facts.columns))
        ),
    )
    joined = narrow.join(rules_frame(), on="fact_type", how="inner")
    currency = pl.col("currency")
    for name in CURRENCY_FIELDS[1:]:
        currency = pl.when(pl.col("currency_field") == name).then(pl.col(name)).otherwise(currency)
    amount = pl.lit(None, dtype=pl.Int64)
    for name in sorted({r.amount_field for r in RULES}):
        amount = pl.when(pl.col("amount_field") == name).then(pl.col(name)).otherwise(amount)
    condition = pl.col("condition") == "always"
    for op, name in sorted({(r.condition, r.condition_field) for r in RULES if r.condition_field}):
        present = pl.col(name).cast(pl.Utf8).fill_null("") != ""
        holds = {
            "present": present,
            "absent": ~present,
            "positive": pl.col(name) > 0,
            "negative": pl.col(name) < 0,
        }[op]
        condition = condition | (
            (pl.col("condition") == op) & (pl.col("condition_field") == name) & holds
        )
    account = pl.col("account_template")
    for name in SEGMENT_PARAMS:
        value = acc.account_segment_expr(name).fill_null("")
        account = account.str.replace_all("{" + name + "}", value, literal=True)
    for name in PATH_PARAMS:
        account = account.str.replace_all(
            "{" + name + "}", pl.col(name).fill_null(""), literal=True
        )
    on_debit = (pl.col("side") == "debit") == (pl.col("amount") > 0)
    lines = (
        joined.filter(condition.fill_null(False))
        .with_columns(amount=amount, account=account, currency=currency)
        .with_columns(
            debit_minor=pl.when(on_debit).then(pl.col("amount").abs()).otherwise(0),
            credit_minor=pl.when(on_debit).then(0).otherwise(pl.col("amount").abs()),
            reason=pl.when(~pl.col("currency").is_in(list(active_currencies())).fill_null(False))
            .then(pl.format("bad currency {}", pl.col("currency")))
            .when(pl.col("amount").is_null())
            .then(pl.format("{} is missing", pl.col("amount_field")))
            .when(~pl.col("account").str.contains(acc.ACCOUNT_PATTERN))
            .then(pl.format("invalid account '{}'", pl.col("account"))),
        )
    )
    # As in `post`, a zero line's account is never rendered, so it cannot fail the fact.
    line_problems = lines.filter(
        pl.col("reason").is_not_null()
        & (pl.col("reason").str.starts_with("bad currency") | (pl.col("amount") != 0)).fill_null(
            True
        )
    )
    lines = lines.filter(pl.col("amount") != 0)
    if line_problems.height:
        lines = lines.join(line_problems.select("_row"), on="_row", how="anti")
    unbalanced = (
        lines.group_by("_row", "currency")
        .agg(
            pl.col("fact_type").first(),
            (pl.col("debit_minor") - pl.col("credit_minor")).sum().alias("imbalance"),
        )
        .filter(pl.col("imbalance") != 0)
        .select("_row", "fact_type", reason=pl.format("debits - credits = {}", "imbalance"))
    )
    unknown = narrow.filter(
        ~pl.col("fact_type").is_in([*POSTING_FACT_TYPES, *NON_POSTING_FACT_TYPES])
    ).select("_row", "fact_type", reason=pl.format("no posting rule for '{}'", "fact_type"))
    problems = pl.concat(
        [line_problems.select("_row", "fact_type", "reason"), unbalanced, unknown]
    ).unique(subset="_row", keep="first", maintain_order=True)
    if problems.height:
        lines = lines.join(problems.select("_row"), on="_row", how="anti")
    fact_id = facts.get_column("fact_id")
    lines = lines.sort("_row", "line_no")
    lines = lines.with_columns(fact_id=fact_id.gather(lines.get_column("_row"))).select(
        "fact_id",
        "fact_type",
        "line_no",
        "account",
        "currency",
        "debit_minor",
        "credit_minor",
        "rules_version",
        *([pl.col("_row").alias(row_column)] if row_column else []),
    )
    problems = problems.with_columns(fact_id=fact_id.gather(problems.get_column("_row")))
    return lines, problems.select("fact_id", "fact_type", "reason")
