import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_pipeline.domain import accounts as acc


def test_contract_names_are_exactly_the_design_names_and_valid():
    # DESIGN.md "Ledger": the analyst contract, spelled out by hand.
    assert set(acc.CONTRACT_ACCOUNTS) == {
        "assets:cash_in_transit",
        "assets:receivables",
        "assets:suspense",
        "liabilities:customer_credit",
        "income:revenue",
        "income:refunds",
        "income:fx_gain_loss",
        "expenses:processor_fees",
        "expenses:chargebacks",
        "expenses:bad_debt",
        "expenses:bank_fees",
        "expenses:rounding",
    }
    assert all(acc.is_valid_account(a) for a in acc.CONTRACT_ACCOUNTS)


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("assets", "is a root"),
        ("asset:bank", "must start with"),
        ("revenue", "must start with"),
        ("assets::bank", "empty segment"),
        ("assets:bank:", "empty segment"),
        ("Assets:bank", "must start with"),
        ("assets:Bank", "outside lower-case"),
        ("assets:bank account", "outside lower-case"),
        ("", "must start with"),
    ],
)
def test_invalid_paths_are_rejected_with_the_reason(path, problem):
    assert not acc.is_valid_account(path)
    with pytest.raises(acc.AccountError, match=problem):
        acc.validate_account(path)


def test_non_text_account_is_rejected():
    with pytest.raises(acc.AccountError, match="must be text"):
        acc.validate_account(None)


@pytest.mark.parametrize(
    ("path", "side"),
    [
        ("assets:bank:x", "debit"),
        ("expenses:rounding", "debit"),
        ("liabilities:customer_credit", "credit"),
        ("equity:retained_earnings", "credit"),
        ("income:revenue", "credit"),
    ],
)
def test_normal_balance_side_follows_the_root(path, side):
    assert acc.normal_side(path) == side


def test_parametrised_accounts_normalise_identifiers_one_way():
    assert acc.processor_clearing("Stripe") == "assets:processor_clearing:stripe"
    assert acc.bank_account("NL91ABNA0417164300") == "assets:bank:nl91abna0417164300"
    # A colon in an id must never create a deeper account.
    assert acc.bank_account("123456/EUR:x") == "assets:bank:123456_eur_x"
    with pytest.raises(acc.AccountError):
        acc.bank_account("   ")
    with pytest.raises(acc.AccountError):
        acc.processor_clearing(None)  # type: ignore[arg-type]


@given(st.text(min_size=1, max_size=30).filter(lambda s: s.strip(" \t\r\n")))
def test_any_identifier_makes_exactly_one_valid_segment(identifier):
    account = acc.bank_account(identifier)
    assert acc.is_valid_account(account)
    assert account.count(":") == 2


@given(st.lists(st.text(max_size=20), min_size=1, max_size=20))
def test_vectorised_segment_equals_the_scalar_one(identifiers):
    frame = pl.DataFrame({"id": identifiers}, schema={"id": pl.Utf8})
    got = frame.select(acc.account_segment_expr("id")).to_series().to_list()
    expected = [acc.account_segment(i) if i.strip(" \t\r\n") else None for i in identifiers]
    assert got == expected
