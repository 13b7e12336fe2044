"""ISO 20022 camt.053 bank-to-customer statements (versions .001.02 to .001.13), with lxml.

The namespace only names the version; the elements this parser reads have kept their names
across versions (v08+ wraps parties in `Pty`, handled below), so after checking the namespace
the tree is read by local names. A batch entry with transaction details becomes one bank line
per `TxDtls` when those amounts add up to the entry in its currency; otherwise one line for the
entry, so the bank lines always sum to what the bank booked.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from lxml import etree

from billing_pipeline.formats.base import ParseResult, Rejected, UnreadableFile
from billing_pipeline.formats.fields import (
    FieldError,
    currency_code,
    decimal_str,
    decimal_text,
    parse_date,
)
from billing_pipeline.formats.frames import result

_NAMESPACE = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.(\d{2})$")
SUPPORTED_VERSIONS = range(2, 14)
BALANCE_TYPES = {
    "OPBD": "opening",
    "CLBD": "closing",
    "CLAV": "closing_available",
    "FWAV": "forward_available",
}
_ELEMENT = etree._Element


def _hardened_parser() -> etree.XMLParser:
    # No DTDs, no entity expansion, no network: a statement file is data, never instructions.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def read_document(content: bytes) -> _ELEMENT:
    """The BkToCstmrStmt element of a camt.053 document, namespaces stripped."""
    if not content.strip():
        raise UnreadableFile("empty file")
    try:
        root = etree.fromstring(content, _hardened_parser())
    except etree.XMLSyntaxError as exc:
        raise UnreadableFile(f"invalid or truncated XML: {exc}") from None
    qname = etree.QName(root)
    if qname.namespace is not None:
        match = _NAMESPACE.match(qname.namespace)
        if match is None:
            raise UnreadableFile(f"not a camt.053 document: namespace {qname.namespace!r}")
        if int(match.group(1)) not in SUPPORTED_VERSIONS:
            raise UnreadableFile(f"unsupported camt.053 version {qname.namespace!r}")
    for element in root.iter():
        if isinstance(element.tag, str):
            element.tag = etree.QName(element).localname
    statement_root = root if root.tag == "BkToCstmrStmt" else root.find("BkToCstmrStmt")
    if root.tag not in {"Document", "BkToCstmrStmt"} or statement_root is None:
        raise UnreadableFile(f"not a camt.053 document: root element <{root.tag}>")
    return statement_root


def parse(content: bytes, file_name: str) -> ParseResult:
    statements = read_document(content).findall("Stmt")
    rows: dict[str, list[dict[str, Any]]] = {"bank_lines": [], "bank_balances": []}
    rejected: list[Rejected] = []
    notes: list[str] = []
    for stmt in statements:
        header = {
            "bank_format": "camt053",
            "account_id": _text(stmt, "Acct/Id/IBAN") or _text(stmt, "Acct/Id/Othr/Id"),
            "statement_id": _text(stmt, "Id"),
        }
        balances = stmt.findall("Bal")
        codes = {_text(bal, "Tp/CdOrPrtry/Cd") for bal in balances}
        for bal in balances:
            try:
                row = _balance(bal, codes)
            except FieldError as exc:
                rejected.append(Rejected(bal.sourceline, str(exc), _raw(bal)))
                continue
            if row is None:
                code = _text(bal, "Tp/CdOrPrtry/Cd") or _text(bal, "Tp/CdOrPrtry/Prtry")
                notes.append(f"line {bal.sourceline}: balance type {code} not used")
                continue
            rows["bank_balances"].append({**header, **row, "source_line": bal.sourceline})
        for entry in stmt.findall("Ntry"):
            try:
                lines = _entry_lines(entry)
            except FieldError as exc:
                rejected.append(Rejected(entry.sourceline, str(exc), _raw(entry)))
                continue
            rows["bank_lines"].extend({**header, **line} for line in lines)
    if not statements:
        notes.append("document has no Stmt")
    return result(rows, rejected, notes)


def _text(element: _ELEMENT, path: str) -> str | None:
    found = element.find(path)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _raw(element: _ELEMENT) -> str:
    return etree.tostring(element, encoding="unicode", with_tail=False)


def _date(element: _ELEMENT, path: str, what: str) -> Any:
    text = _text(element, f"{path}/Dt") or _text(element, f"{path}/DtTm")
    if text is None:
        return None
    return parse_date(text[:10], what)  # a DtTm's own (bank-local) calendar date


def _signed(amount_element: _ELEMENT | None, indicator: str | None, what: str) -> tuple[str, str]:
    if amount_element is None:
        raise FieldError(f"{what} has no Amt")
    amount = decimal_text(amount_element.text, f"{what} Amt")
    currency = currency_code(amount_element.get("Ccy"), f"{what} Amt/@Ccy")
    if indicator not in {"CRDT", "DBIT"}:
        raise FieldError(f"{what} CdtDbtInd {indicator!r} is neither CRDT nor DBIT")
    return (decimal_str(-Decimal(amount)) if indicator == "DBIT" else amount), currency


def _balance(bal: _ELEMENT, codes: set[str | None]) -> dict[str, Any] | None:
    code = _text(bal, "Tp/CdOrPrtry/Cd")
    if code == "PRCD" and "OPBD" not in codes:
        kind = "opening"  # previously closed booked stands in for a missing opening balance
    elif code == "ITBD":
        kind = "interim_closing" if codes & {"OPBD", "PRCD"} else "interim_opening"
    else:
        kind = BALANCE_TYPES.get(code or "")
    if kind is None:
        return None
    amount, currency = _signed(bal.find("Amt"), _text(bal, "CdtDbtInd"), f"balance {code}")
    as_of = _date(bal, "Dt", f"balance {code} Dt")
    if as_of is None:
        raise FieldError(f"balance {code} has no date")
    return {"balance_type": kind, "as_of_date": as_of, "currency": currency, "amount": amount}


def _entry_lines(entry: _ELEMENT) -> list[dict[str, Any]]:
    status = _text(entry, "Sts/Cd") or _text(entry, "Sts")
    if status not in {None, "BOOK"}:
        raise FieldError(f"entry status {status} is not booked")
    indicator = _text(entry, "CdtDbtInd")
    amount, currency = _signed(entry.find("Amt"), indicator, "entry")
    booking_date = _date(entry, "BookgDt", "BookgDt")
    if booking_date is None:
        raise FieldError("entry has no BookgDt")
    common = {
        "booking_date": booking_date,
        "value_date": _date(entry, "ValDt", "ValDt"),
        "tx_code": _tx_code(entry),
    }
    entry_info = _text(entry, "AddtlNtryInf")
    entry_ref = _text(entry, "AcctSvcrRef") or _text(entry, "NtryRef")
    details = entry.findall("NtryDtls/TxDtls")
    split = _split_amounts(details, indicator, amount, currency)
    if split is None:
        return [
            {
                **common,
                **_details(details[0] if len(details) == 1 else None, indicator, entry_ref),
                "currency": currency,
                "amount": amount,
                "remittance_info": _join([*_remittance(details), entry_info]),
                "source_line": entry.sourceline,
            }
        ]
    return [
        {
            **common,
            **_details(tx, indicator, entry_ref),
            "currency": currency,
            "amount": tx_amount,
            "remittance_info": _join([*_remittance([tx]), entry_info]),
            "source_line": tx.sourceline,
        }
        for tx, tx_amount in zip(details, split, strict=True)
    ]


def _split_amounts(
    details: list[_ELEMENT], indicator: str | None, amount: str, currency: str
) -> list[str] | None:
    """Signed TxDtls amounts when they exist for a batch and add up to the entry, else None."""
    if len(details) < 2:
        return None
    amounts = []
    for tx in details:
        element = tx.find("Amt")
        if element is None:
            element = tx.find("AmtDtls/TxAmt/Amt")
        if element is None:
            return None
        tx_amount, tx_currency = _signed(element, _text(tx, "CdtDbtInd") or indicator, "TxDtls")
        if tx_currency != currency:
            return None
        amounts.append(tx_amount)
    if sum(map(Decimal, amounts)) != Decimal(amount):
        return None
    return amounts


def _details(tx: _ELEMENT | None, indicator: str | None, entry_ref: str | None) -> dict[str, Any]:
    if tx is None:
        return {"entry_ref": entry_ref, "end_to_end_ref": None, "counterparty": None}
    end_to_end = _text(tx, "Refs/EndToEndId")
    party = "Dbtr" if indicator == "CRDT" else "Cdtr"
    own_code = _tx_code(tx)
    return {
        **({"tx_code": own_code} if own_code else {}),
        "entry_ref": _text(tx, "Refs/AcctSvcrRef") or entry_ref,
        "end_to_end_ref": None if end_to_end == "NOTPROVIDED" else end_to_end,
        "counterparty": _text(tx, f"RltdPties/{party}/Nm")
        or _text(tx, f"RltdPties/{party}/Pty/Nm"),
    }


def _remittance(details: list[_ELEMENT]) -> list[str | None]:
    texts: list[str | None] = []
    for tx in details:
        texts.extend(el.text for el in tx.findall("RmtInf/Ustrd"))
        texts.extend(el.text for el in tx.findall("RmtInf/Strd/CdtrRefInf/Ref"))
        texts.extend(el.text for el in tx.findall("RmtInf/Strd/AddtlRmtInf"))
        texts.append(_text(tx, "AddtlTxInf"))
    return texts


def _join(texts: list[str | None]) -> str | None:
    seen: list[str] = []
    for text in texts:
        cleaned = " ".join((text or "").split())
        if cleaned and cleaned != "NOTPROVIDED" and cleaned not in seen:
            seen.append(cleaned)
    return " ".join(seen) or None


def _tx_code(element: _ELEMENT) -> str | None:
    """Domain/family/sub-family when complete, else the proprietary code (entry or TxDtls)."""
    domain = [
        _text(element, "BkTxCd/Domn/Cd"),
        _text(element, "BkTxCd/Domn/Fmly/Cd"),
        _text(element, "BkTxCd/Domn/Fmly/SubFmlyCd"),
    ]
    if all(domain):
        return "/".join(domain)  # type: ignore[arg-type]
    return _text(element, "BkTxCd/Prtry/Cd")
