"""Reconciliation rules as versioned configuration: YAML -> validated dataclasses.

A rule says how one leg pairs items of its left side with items of its right side: a list of
criteria that must all hold (`field operator value`, each side addressed as `left.<field>` or
`right.<field>`), and a strategy saying which side's items a match consumes. Rules of a leg
run in file order, exact ones first; each rule only sees what earlier rules left over.
A bad rule file fails loudly with the rule and the field at fault (`RuleError`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

# leg -> (fields of its left side, fields of its right side)
LEG_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "ledger_processor": (
        frozenset({"processor", "processor_ref", "kind", "amount_minor", "currency",
                   "business_date", "payment_id"}),
        frozenset({"processor", "processor_ref", "kind", "amount_minor", "currency",
                   "business_date", "settlement_date", "merchant_ref", "line_ref",
                   "settlement_currency", "gross_minor", "fee_minor", "net_minor"}),
    ),
    "processor_bank": (
        frozenset({"processor", "payout_ref", "bank_reference", "batch_number", "amount_minor",
                   "currency", "business_date", "expected_date"}),
        frozenset({"account_id", "amount_minor", "currency", "business_date", "value_date",
                   "remittance_info", "counterparty", "narrative", "end_to_end_ref", "entry_ref"}),
    ),
    "bank_invoice": (
        frozenset({"account_id", "amount_minor", "currency", "business_date", "remittance_info",
                   "counterparty", "narrative", "end_to_end_ref", "entry_ref", "customer_id"}),
        frozenset({"invoice_id", "invoice_number", "invoice_digits", "customer_id",
                   "open_minor", "currency", "business_date", "due_date"}),
    ),
}  # fmt: skip
LEGS = tuple(LEG_FIELDS)
STRATEGIES = ("one_to_one", "one_to_many", "many_to_one")
OPERATORS = ("equals", "contains", "regex", "within")
TOLERANCE_KEYS = ("minor", "percent", "days", "business_days")
DIRECTIONS = ("both", "after", "before")


class RuleError(ValueError):
    """The rule file is not usable; the message names the rule and the field at fault."""


@dataclass(frozen=True, slots=True)
class Tolerance:
    minor: int | None = None  # |right - left| <= minor (amounts)
    percent: Decimal | None = None  # |right - left| * 100 <= percent * |left|
    days: int | None = None  # calendar days
    business_days: int | None = None  # Monday-Friday days
    direction: str = "both"  # after: right may only be later/bigger; before: earlier/smaller


@dataclass(frozen=True, slots=True)
class Criterion:
    field: str  # "left.x" or "right.x": the value tested
    operator: str
    values: tuple[str, ...]  # field references or literals ('text'); several = any of them
    pattern: str | None = None  # regex: group 1 of any match must equal a value
    tolerance: Tolerance | None = None

    def describe(self) -> str:
        tail = f" /{self.pattern}/" if self.pattern else ""
        return f"{self.field} {self.operator}{tail} {' | '.join(self.values)}".strip()


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    version: int
    leg: str
    strategy: str
    criteria: tuple[Criterion, ...]
    description: str = ""


@dataclass(frozen=True, slots=True)
class LegSettings:
    # How long an unmatched item may wait for its counterpart before it is missing, per side.
    left_window: Tolerance = field(default_factory=lambda: Tolerance(days=0))
    right_window: Tolerance = field(default_factory=lambda: Tolerance(days=0))
    # A matched pair further apart than this (right date after left date) is a `timing` item.
    timing: Tolerance | None = None


@dataclass(frozen=True, slots=True)
class RuleSet:
    version: str
    rules: tuple[Rule, ...]
    legs: dict[str, LegSettings]
    holding_accounts: dict[str, str]  # "<leg>:<type>" or "<type>" -> account for write-offs

    def for_leg(self, leg: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.leg == leg)

    def settings(self, leg: str) -> LegSettings:
        return self.legs.get(leg, LegSettings())

    def fingerprint(self) -> str:
        text = json.dumps(asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def holding_account(self, leg: str, kind: str) -> str:
        return self.holding_accounts.get(
            f"{leg}:{kind}", self.holding_accounts.get(kind, "assets:suspense")
        )


def load_rules(path: str | Path) -> RuleSet:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise RuleError(f"{path}: not valid YAML: {error}") from error
    return parse_rules(data, str(path))


def parse_rules(data: Any, origin: str = "rules") -> RuleSet:
    if not isinstance(data, dict):
        raise RuleError(f"{origin}: expected a mapping with 'version' and 'rules'")
    version = data.get("version")
    if version is None or str(version).strip() == "":
        raise RuleError(f"{origin}: missing rule-set 'version'")
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise RuleError(f"{origin}: 'rules' must be a non-empty list")
    rules = tuple(_rule(r, f"{origin} rule #{i + 1}") for i, r in enumerate(raw_rules))
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise RuleError(f"{origin}: rule id {rule.id!r} appears twice")
        seen.add(rule.id)
    legs = {}
    for leg, raw in (data.get("legs") or {}).items():
        if leg not in LEG_FIELDS:
            raise RuleError(f"{origin}: unknown leg {leg!r} in 'legs'; expected one of {LEGS}")
        legs[leg] = _leg_settings(raw or {}, f"{origin} legs.{leg}")
    accounts = data.get("holding_accounts") or {}
    if not isinstance(accounts, dict) or not all(
        isinstance(v, str) and v.split(":")[0] in ("assets", "liabilities")
        for v in accounts.values()
    ):
        raise RuleError(f"{origin}: holding_accounts must map to assets:/liabilities: accounts")
    return RuleSet(str(version), rules, legs, {str(k): v for k, v in accounts.items()})


def _rule(raw: Any, where: str) -> Rule:
    if not isinstance(raw, dict):
        raise RuleError(f"{where}: a rule must be a mapping")
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not rule_id.strip():
        raise RuleError(f"{where}: missing 'id'")
    where = f"{where} ({rule_id})"
    version = raw.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise RuleError(f"{where}: 'version' must be a positive integer, got {version!r}")
    leg = raw.get("leg")
    if leg not in LEG_FIELDS:
        raise RuleError(f"{where}: unknown leg {leg!r}; expected one of {LEGS}")
    strategy = raw.get("strategy")
    if strategy not in STRATEGIES:
        raise RuleError(f"{where}: unknown strategy {strategy!r}; expected one of {STRATEGIES}")
    raw_criteria = raw.get("criteria")
    if not isinstance(raw_criteria, list) or not raw_criteria:
        raise RuleError(f"{where}: 'criteria' must be a non-empty list")
    criteria = tuple(
        _criterion(c, leg, f"{where} criterion #{i + 1}") for i, c in enumerate(raw_criteria)
    )
    return Rule(rule_id, version, leg, strategy, criteria, str(raw.get("description", "")))


def _reference(text: Any, leg: str, where: str, allow_literal: bool) -> str:
    if not isinstance(text, str) or not text:
        raise RuleError(f"{where}: expected a field reference, got {text!r}")
    if allow_literal and text.startswith("'") and text.endswith("'") and len(text) >= 2:
        return text
    side, _, name = text.partition(".")
    left, right = LEG_FIELDS[leg]
    known = {"left": left, "right": right}.get(side)
    if known is None or name not in known:
        names = sorted(f"left.{f}" for f in left) + sorted(f"right.{f}" for f in right)
        raise RuleError(f"{where}: unknown field {text!r} for leg {leg}; known: {names}")
    return text


def _criterion(raw: Any, leg: str, where: str) -> Criterion:
    if not isinstance(raw, dict):
        raise RuleError(f"{where}: a criterion must be a mapping")
    operator = raw.get("operator")
    if operator not in OPERATORS:
        raise RuleError(f"{where}: unknown operator {operator!r}; expected one of {OPERATORS}")
    field_ref = _reference(raw.get("field"), leg, where, allow_literal=False)
    raw_values = raw.get("value")
    raw_values = raw_values if isinstance(raw_values, list) else [raw_values]
    values = tuple(_reference(v, leg, where, allow_literal=True) for v in raw_values)
    pattern = raw.get("pattern")
    if operator == "regex":
        if not isinstance(pattern, str) or "(" not in pattern:
            raise RuleError(f"{where}: regex needs a 'pattern' with a capture group")
    elif pattern is not None:
        raise RuleError(f"{where}: 'pattern' only applies to the regex operator")
    tolerance = None
    if operator == "within":
        tolerance = _tolerance(raw.get("tolerance"), where)
    elif raw.get("tolerance") is not None:
        raise RuleError(f"{where}: 'tolerance' only applies to the within operator")
    return Criterion(field_ref, operator, values, pattern, tolerance)


def _tolerance(raw: Any, where: str) -> Tolerance:
    if not isinstance(raw, dict):
        raise RuleError(f"{where}: 'within' needs a tolerance mapping ({TOLERANCE_KEYS})")
    unknown = set(raw) - {*TOLERANCE_KEYS, "direction"}
    if unknown:
        raise RuleError(f"{where}: unknown tolerance keys {sorted(unknown)}")
    given = [k for k in TOLERANCE_KEYS if raw.get(k) is not None]
    if len(given) != 1:
        raise RuleError(f"{where}: give exactly one of {TOLERANCE_KEYS}, got {given}")
    key = given[0]
    direction = raw.get("direction", "both")
    if direction not in DIRECTIONS:
        raise RuleError(f"{where}: direction must be one of {DIRECTIONS}")
    if key == "percent":
        try:
            percent = Decimal(str(raw[key]))
        except InvalidOperation as error:
            raise RuleError(f"{where}: percent {raw[key]!r} is not a number") from error
        if not percent.is_finite() or percent < 0:
            raise RuleError(f"{where}: percent must be >= 0")
        return Tolerance(percent=percent, direction=direction)
    value = raw[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise RuleError(f"{where}: {key} must be a non-negative integer, got {value!r}")
    return Tolerance(**{key: value}, direction=direction)


def _leg_settings(raw: dict, where: str) -> LegSettings:
    def window(name: str, default: Tolerance | None) -> Tolerance | None:
        if raw.get(name) is None:
            return default
        tolerance = _tolerance(raw[name], f"{where}.{name}")
        if tolerance.days is None and tolerance.business_days is None:
            raise RuleError(f"{where}.{name}: a window is in days or business_days")
        return tolerance

    return LegSettings(
        left_window=window("left_window", Tolerance(days=0)),
        right_window=window("right_window", Tolerance(days=0)),
        timing=window("timing", None),
    )
