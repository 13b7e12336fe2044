"""Bank statements parse with the field libraries, look like the real samples, and balance."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import mt940
from bai2 import bai2
from lxml import etree

from billing_pipeline.domain.money import to_minor

REAL = Path(__file__).parents[1] / "fixtures" / "real"
CAMT08 = "{urn:iso:std:iso:20022:tech:xsd:camt.053.001.08}"


def _mt940_tags(text: str) -> set[str]:
    return set(re.findall(r"^:(\d\d[A-Z]?):", text, flags=re.MULTILINE))


def _bai2_codes(text: str) -> set[str]:
    return {line[:2] for line in text.splitlines() if line.strip()}


def _statements(world) -> dict[str, list[tuple[str, int, int, int, list[str]]]]:
    """account -> [(day, opening, closing, sum of entries, entry refs)] in day order."""
    by_account: dict[str, list] = defaultdict(list)
    for path in world.files("bank"):
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".sta":
            statement = mt940.models.Transactions()
            statement.parse(text)
            ccy = "GBP"
            opening = to_minor(str(statement.data["final_opening_balance"].amount.amount), ccy)
            closing = to_minor(str(statement.data["final_closing_balance"].amount.amount), ccy)
            amounts = [to_minor(str(t.data["amount"].amount), ccy) for t in statement]
            refs = [t.data["bank_reference"] for t in statement]
            account = statement.data["account_identification"]
        elif path.suffix == ".bai":
            parsed = bai2.parse_from_string(text, check_integrity=True)
            acct = parsed.children[0].children[0]
            summary = {s.type_code.code: s.amount for s in acct.header.summary_items}
            opening, closing = summary["010"], summary["015"]
            sign = {"credit": 1, "debit": -1}
            amounts = [sign[t.type_code.transaction.value] * t.amount for t in acct.children]
            refs = [t.bank_reference for t in acct.children]
            account = acct.header.customer_account_number
        else:
            root = etree.fromstring(path.read_bytes())
            stmt = root.find(f"{CAMT08}BkToCstmrStmt/{CAMT08}Stmt")
            balances = {}
            for bal in stmt.findall(f"{CAMT08}Bal"):
                code = bal.findtext(f"{CAMT08}Tp/{CAMT08}CdOrPrtry/{CAMT08}Cd")
                sign = 1 if bal.findtext(f"{CAMT08}CdtDbtInd") == "CRDT" else -1
                balances[code] = sign * to_minor(bal.findtext(f"{CAMT08}Amt"), "EUR")
            opening, closing = balances["OPBD"], balances["CLBD"]
            amounts, refs = [], []
            for ntry in stmt.findall(f"{CAMT08}Ntry"):
                sign = 1 if ntry.findtext(f"{CAMT08}CdtDbtInd") == "CRDT" else -1
                amounts.append(sign * to_minor(ntry.findtext(f"{CAMT08}Amt"), "EUR"))
                refs.append(ntry.findtext(f"{CAMT08}AcctSvcrRef"))
            account = stmt.findtext(f"{CAMT08}Acct/{CAMT08}Id/{CAMT08}IBAN")
        by_account[account].append((path.parent.name, opening, closing, sum(amounts), refs))
    return by_account


def test_each_statement_closes_and_the_next_opens_where_it_closed(world):
    statements = _statements(world)
    assert len(statements) == 3
    control = {a["account_id"]: a for a in world.control()["bank_accounts"]}
    for account, days in statements.items():
        days.sort()
        for (_, opening, closing, moved, _), nxt in zip(days, [*days[1:], None], strict=True):
            assert opening + moved == closing
            if nxt is not None:
                assert nxt[1] == closing
        assert control[account]["opening_minor"] == days[0][1]
        assert control[account]["closing_minor"] == days[-1][2]


def test_every_bank_entry_has_a_unique_reference_recorded_in_truth(world):
    refs = [r for days in _statements(world).values() for d in days for r in d[4]]
    assert len(refs) == len(set(refs))
    assert set(refs) == {e["entry_ref"] for e in world.table("bank_entries")}


def test_mt940_uses_only_tags_seen_in_the_real_samples(world):
    real = set().union(
        *(_mt940_tags(p.read_text(encoding="latin-1")) for p in (REAL / "mt940").iterdir())
    )
    for path in world.files("bank", "*.sta"):
        tags = _mt940_tags(path.read_text(encoding="utf-8"))
        assert {"20", "25", "28C", "60F", "62F"} <= tags <= real


def test_bai2_uses_the_record_types_of_the_real_samples_and_passes_integrity_checks(world):
    real = set().union(
        *(_bai2_codes(p.read_text(encoding="latin-1")) for p in (REAL / "bai2").iterdir())
    )
    for path in world.files("bank", "*.bai"):
        text = path.read_text(encoding="utf-8")
        assert _bai2_codes(text) <= real
        assert {"01", "02", "03", "49", "98", "99"} <= _bai2_codes(text)
        bai2.parse_from_string(text, check_integrity=True)


def _local_paths(tree) -> set[str]:
    paths = set()
    for element in tree.iter():
        names = [etree.QName(e).localname for e in (element, *element.iterancestors())]
        paths.add("/".join(reversed(names)))
    return paths


def test_camt053_is_version_08_with_the_elements_of_the_real_v08_sample(world):
    real = _local_paths(etree.parse(str(REAL / "camt053" / "ubs_ch_v08.xml")))
    for path in world.files("bank", "*.xml"):
        tree = etree.parse(str(path))
        assert tree.getroot().tag == f"{CAMT08}Document"
        ours = _local_paths(tree)
        assert ours <= real, sorted(ours - real)
        for required in (
            "Document/BkToCstmrStmt/GrpHdr/MsgId",
            "Document/BkToCstmrStmt/Stmt/Acct/Id/IBAN",
            "Document/BkToCstmrStmt/Stmt/Bal/Tp/CdOrPrtry/Cd",
        ):
            assert required in ours
        assert len(tree.findall(f".//{CAMT08}Ntry")) == len(
            tree.findall(f".//{CAMT08}Ntry/{CAMT08}AcctSvcrRef")
        )
