-- Debit balances equal credit balances per currency on every date, and the functional
-- currency nets to zero: the ledger's double-entry invariant, in SQL.
select as_of_date, currency, total_debit_minor, total_credit_minor, functional_net_minor
from {{ ref('trial_balance') }}
where total_debit_minor != total_credit_minor
