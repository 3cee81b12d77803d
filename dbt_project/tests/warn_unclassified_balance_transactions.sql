-- A balance-transaction type (or an adjustment's reporting category) the money contract does
-- not list: it lands as `unclassified` and the marts still publish, so this only warns and
-- lists the rows (marts.data_warnings). Add the type to macros/money_classification.sql and
-- docs/money.md.
{{ config(severity='warn', store_failures=true) }}

select *
from {{ ref('data_warnings') }}
where check_name = 'unclassified_balance_transaction'
