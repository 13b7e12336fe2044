"""Small valid files of every format, the raw material the corpus of bad inputs mutates."""

from __future__ import annotations

import json

DAY = "2026-10-05"

STRIPE_BALANCE_HEADER = (
    "balance_transaction_id,created_utc,available_on_utc,currency,gross,fee,net,"
    "reporting_category,source_id,description,automatic_payout_id,charge_id"
)


def stripe_row(
    txn: str = "txn_1", gross: str = "20.70", fee: str = "0.90", net: str = "19.80",
    currency: str = "eur", description: str = "", category: str = "charge",
) -> str:  # fmt: skip
    return (
        f"{txn},{DAY} 10:00:00,2026-10-06 00:00:00,{currency},{gross},{fee},{net},"
        f"{category},ch_{txn},{description},po_1,ch_{txn}"
    )


def stripe_balance(*rows: str) -> str:
    return "\n".join([STRIPE_BALANCE_HEADER, *(rows or [stripe_row()])]) + "\n"


STRIPE_PAYOUTS = (
    "payout_id,effective_at_utc,currency,gross,fee,net,reporting_category,"
    "balance_transaction_id,description,payout_expected_arrival_date,payout_status\n"
    "po_1,2026-10-06 00:00:00,eur,19.75,0.00,19.75,payout,txn_p1,STRIPE PAYOUT,2026-10-09,"
    "in_transit\n"
)

ADYEN_HEADER = (
    "Company Account,Merchant Account,Psp Reference,Merchant Reference,Payment Method,"
    "Creation Date,TimeZone,Type,Modification Reference,Gross Currency,Gross Debit (GC),"
    "Gross Credit (GC),Exchange Rate,Net Currency,Net Debit (NC),Net Credit (NC),"
    "Commission (NC),Markup (NC),Scheme Fees (NC),Interchange (NC),Batch Number"
)


def adyen_row(
    psp: str = "5211769919603417", net: str = "63.93", currency: str = "USD",
    zone: str = "CEST", kind: str = "Settled", gross: str = "65.13",
) -> str:  # fmt: skip
    return (
        f"BillingCo,BillingCoUSD,{psp},pay_1,visa,{DAY} 17:27:56,{zone},{kind},"
        f"mod_{psp},{currency},,{gross},1,{currency},,{net},0.1,0.19,0.13,0.78,7002"
    )


def adyen(*rows: str) -> str:
    return "\n".join([ADYEN_HEADER, *(rows or [adyen_row()])]) + "\n"


BANK_CSV_HEADER = (
    "account_id,booking_date,value_date,amount,currency,reference,description,counterparty"
)
IBAN = "DE89370400440532013000"


def bank_csv_row(
    amount: str = "12.50", currency: str = "EUR", ref: str = "REF1",
    description: str = "rent", booking: str = DAY, account: str = IBAN,
) -> str:  # fmt: skip
    return f"{account},{booking},{booking},{amount},{currency},{ref},{description},ACME"


def bank_csv(*rows: str) -> str:
    return "\n".join([BANK_CSV_HEADER, *(rows or [bank_csv_row()])]) + "\n"


def rates(*rows: str) -> str:
    body = rows or (f"{DAY},EUR,KWD,0.344265",)
    return "\n".join(["date,base_currency,quote_currency,rate", *body]) + "\n"


def event(event_id: str = "evt_1", **fields) -> str:
    body = {
        "event_id": event_id,
        "type": "payment.created",
        "occurred_at": f"{DAY}T10:00:00+00:00",
        "payment_id": "pay_1",
        "customer_id": "cus_1",
        "invoice_id": None,
        "amount_minor": 1000,
        "currency": "EUR",
        "processor": "stripe",
        "processor_ref": "ch_1",
    }
    body.update(fields)
    return json.dumps(body)


def events(*lines: str) -> str:
    return "\n".join(lines or [event()]) + "\n"


MT940 = (
    ":20:NW202610050001\n:25:GB29NWBK60161331926819\n:28C:1/1\n:60F:C261005GBP18000,00\n"
    ":61:2610051005D610,42NTRFNOTPROVIDED//NW26100500000001\n"
    ":86:SUPPLIER INVOICE OCT 2026\n:62F:C261005GBP17389,58\n-\n"
)

BAI2 = (
    "01,121000248,BILLINGCO,261005,2000,2,80,1,2/\n"
    "02,BILLINGCO,121000248,1,261005,2400,USD,2/\n"
    "03,4021987765,USD,010,4000000,,,015,3999131,,/\n"
    "16,698,869,0,926100600000001,NOTPROVIDED,ACCOUNT MAINTENANCE FEE OCT 2026\n"
    "49,8000000,3/\n98,8000000,1,5/\n99,8000000,1,7/\n"
)

CAMT_NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"


def camt(
    amount: str = "5298.37", currency: str = "EUR", ns: str = CAMT_NS, ref: str = "CB1"
) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="{ns}"><BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId>
<CreDtTm>{DAY}T22:00:00+02:00</CreDtTm></GrpHdr><Stmt><Id>S1</Id>
<CreDtTm>{DAY}T22:00:00+02:00</CreDtTm><Acct><Id><IBAN>{IBAN}</IBAN></Id><Ccy>EUR</Ccy></Acct>
<Ntry><Amt Ccy="{currency}">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
<BookgDt><Dt>{DAY}</Dt></BookgDt><ValDt><Dt>{DAY}</Dt></ValDt><AcctSvcrRef>{ref}</AcctSvcrRef>
<NtryDtls><TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
<RmtInf><Ustrd>OFFICE RENT</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry></Stmt></BkToCstmrStmt>
</Document>
"""
