"""ISO 20022 camt.053.001.08 bank-to-customer statement, one statement per file."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TextIO
from xml.sax.saxutils import escape

from billing_pipeline.domain.money import format_minor
from billing_pipeline.sample.clock import rfc3339
from billing_pipeline.sample.statement import Entry, Statement

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
_CODES = {  # kind -> (domain, family, sub-family)
    "payout": ("PMNT", "RCDT", "ESCT"),
    "invoice_payment": ("PMNT", "RCDT", "ESCT"),
    "rent": ("PMNT", "ICDT", "ESCT"),
    "salaries": ("PMNT", "ICDT", "SALA"),
    "supplier": ("PMNT", "ICDT", "ESCT"),
    "bank_fee": ("ACMT", "MDOP", "CHRG"),
    "interest": ("ACMT", "MDOP", "INTR"),
}


def _balance(code: str, amount: int, ccy: str, day: str) -> str:
    indicator = "CRDT" if amount >= 0 else "DBIT"
    return (
        f"      <Bal>\n        <Tp>\n          <CdOrPrtry>\n            <Cd>{code}</Cd>\n"
        f"          </CdOrPrtry>\n        </Tp>\n"
        f'        <Amt Ccy="{ccy}">{format_minor(abs(amount), ccy)}</Amt>\n'
        f"        <CdtDbtInd>{indicator}</CdtDbtInd>\n        <Dt>\n          <Dt>{day}</Dt>\n"
        f"        </Dt>\n      </Bal>\n"
    )


def _entry(e: Entry, ccy: str, day: str) -> str:
    credit = e.amount >= 0
    domain, family, sub = _CODES[e.kind]
    party_role = "Dbtr" if credit else "Cdtr"
    amount = format_minor(abs(e.amount), ccy)
    return (
        f'      <Ntry>\n        <Amt Ccy="{ccy}">{amount}</Amt>\n'
        f"        <CdtDbtInd>{'CRDT' if credit else 'DBIT'}</CdtDbtInd>\n"
        f"        <Sts>\n          <Cd>BOOK</Cd>\n        </Sts>\n"
        f"        <BookgDt>\n          <Dt>{day}</Dt>\n        </BookgDt>\n"
        f"        <ValDt>\n          <Dt>{day}</Dt>\n        </ValDt>\n"
        f"        <AcctSvcrRef>{e.entry_ref}</AcctSvcrRef>\n"
        f"        <BkTxCd>\n          <Domn>\n            <Cd>{domain}</Cd>\n"
        f"            <Fmly>\n              <Cd>{family}</Cd>\n"
        f"              <SubFmlyCd>{sub}</SubFmlyCd>\n            </Fmly>\n"
        f"          </Domn>\n        </BkTxCd>\n"
        f"        <NtryDtls>\n          <TxDtls>\n            <Refs>\n"
        f"              <EndToEndId>{escape(e.end_to_end)}</EndToEndId>\n            </Refs>\n"
        f'            <Amt Ccy="{ccy}">{amount}</Amt>\n'
        f"            <CdtDbtInd>{'CRDT' if credit else 'DBIT'}</CdtDbtInd>\n"
        f"            <RltdPties>\n              <{party_role}>\n                <Pty>\n"
        f"                  <Nm>{escape(e.counterparty)}</Nm>\n                </Pty>\n"
        f"              </{party_role}>\n            </RltdPties>\n"
        f"            <RmtInf>\n              <Ustrd>{escape(e.text)}</Ustrd>\n"
        f"            </RmtInf>\n          </TxDtls>\n        </NtryDtls>\n      </Ntry>\n"
    )


def render_camt053(
    out: TextIO, s: Statement, entries: Iterable[Entry], on_entry: Callable[[Entry, int], None]
) -> None:
    ccy, day, acct = s.account.currency, s.day.isoformat(), s.account
    created = rfc3339(s.created, 120)
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Document xmlns="{NAMESPACE}">\n  <BkToCstmrStmt>\n    <GrpHdr>\n'
        f"      <MsgId>MSG{s.statement_id}</MsgId>\n      <CreDtTm>{created}</CreDtTm>\n"
        f"    </GrpHdr>\n    <Stmt>\n      <Id>{s.statement_id}</Id>\n"
        f"      <ElctrncSeqNb>{s.sequence}</ElctrncSeqNb>\n      <CreDtTm>{created}</CreDtTm>\n"
        f"      <Acct>\n        <Id>\n          <IBAN>{acct.account_id}</IBAN>\n        </Id>\n"
        f"        <Ccy>{ccy}</Ccy>\n        <Svcr>\n          <FinInstnId>\n"
        f"            <BICFI>{acct.bank_id}</BICFI>\n"
        f"            <Nm>{escape(acct.bank_name)}</Nm>\n"
        f"          </FinInstnId>\n        </Svcr>\n      </Acct>\n"
        + _balance("OPBD", s.opening, ccy, day)
        + _balance("CLBD", s.closing, ccy, day)
    )
    out.write(head)
    line = head.count("\n") + 1
    for e in entries:
        on_entry(e, line)
        text = _entry(e, ccy, day)
        out.write(text)
        line += text.count("\n")
    out.write("    </Stmt>\n  </BkToCstmrStmt>\n</Document>\n")
