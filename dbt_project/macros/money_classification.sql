{#- Where every Stripe balance transaction belongs: its `transactions.type` and its money class.
    The one place this is decided (docs/money.md is the table for people; a test checks that
    both list every type and reporting category of the pinned Stripe SDK).

    Money classes:
      revenue             money earned from a payment (charges, bank debits, platform earnings;
                          a partial capture's released part is negative revenue)
      fee                 Stripe's fees not tied to one payment (billing, Radar, tax, FX...)
      refund              money given back (refunds, failed refunds coming back, fee refunds)
      dispute             dispute withdrawals and their reversals
      adjustment          every other balance movement that is not a payout (reserves,
                          financing, Issuing, Climate, corrections)
      bank_debit_failure  a bank debit (ACH, SEPA) that failed after it was credited
      payout              money moved between the balance and a bank account or another
                          Stripe account (payouts, transfers, top-ups): not in `transactions`
    A type not listed here lands as `unclassified` (a warning test shows it); so does
    type=adjustment with a reporting category not listed.

    `types`: type -> [transactions.type, money class]. Type `adjustment` is classified by its
    reporting category (`adjustment_categories`), because Stripe uses it for disputes, failed
    refunds, fee refunds and corrections alike. `reporting_categories` maps every category for
    the contract table (docs/money.md); only `adjustment` rows are classified by it. -#}
{% macro money_classification() -%}
{%- set classification -%}
types:
  adjustment: [by reporting category, by reporting category]
  charge: [charge, revenue]
  payment: [charge, revenue]
  application_fee: [application_fee, revenue]
  payment_unreconciled: [adjustment, adjustment]
  refund: [refund, refund]
  payment_refund: [refund, refund]
  refund_failure: [refund, refund]
  application_fee_refund: [application_fee_refund, refund]
  payment_failure_refund: [bank_debit_failure, bank_debit_failure]
  payment_reversal: [bank_debit_failure, bank_debit_failure]
  stripe_fee: [fee, fee]
  stripe_fx_fee: [fee, fee]
  tax_fee: [fee, fee]
  fee_credit_funding: [fee, fee]
  advance: [adjustment, adjustment]
  advance_funding: [adjustment, adjustment]
  anticipation_repayment: [adjustment, adjustment]
  climate_order_purchase: [adjustment, adjustment]
  climate_order_refund: [adjustment, adjustment]
  connect_collection_transfer: [adjustment, adjustment]
  contribution: [adjustment, adjustment]
  issuing_authorization_hold: [adjustment, adjustment]
  issuing_authorization_release: [adjustment, adjustment]
  issuing_dispute: [adjustment, adjustment]
  issuing_dispute_provisional_credit: [adjustment, adjustment]
  issuing_dispute_provisional_credit_reversal: [adjustment, adjustment]
  issuing_transaction: [adjustment, adjustment]
  obligation_outbound: [adjustment, adjustment]
  obligation_reversal_inbound: [adjustment, adjustment]
  payment_network_reserve_hold: [adjustment, adjustment]
  payment_network_reserve_release: [adjustment, adjustment]
  reserve_hold: [adjustment, adjustment]
  reserve_release: [adjustment, adjustment]
  reserve_transaction: [adjustment, adjustment]
  reserved_funds: [adjustment, adjustment]
  stripe_balance_payment_debit: [adjustment, adjustment]
  stripe_balance_payment_debit_reversal: [adjustment, adjustment]
  tax_fund: [adjustment, adjustment]
  payout: [payout, payout]
  payout_cancel: [payout, payout]
  payout_failure: [payout, payout]
  payout_minimum_balance_hold: [payout, payout]
  payout_minimum_balance_release: [payout, payout]
  transfer: [transfer, payout]
  transfer_cancel: [transfer, payout]
  transfer_failure: [transfer, payout]
  transfer_refund: [transfer, payout]
  topup: [topup, payout]
  topup_reversal: [topup, payout]
  inbound_transfer: [topup, payout]
  inbound_transfer_reversal: [topup, payout]
reporting_categories:
  charge: [charge, revenue]
  partial_capture_reversal: [charge, revenue]
  platform_earning: [application_fee, revenue]
  refund: [refund, refund]
  refund_failure: [refund, refund]
  platform_earning_refund: [application_fee_refund, refund]
  charge_failure: [bank_debit_failure, bank_debit_failure]
  dispute: [dispute, dispute]
  dispute_reversal: [dispute_reversal, dispute]
  fee: [fee, fee]
  network_cost: [fee, fee]
  tax: [fee, fee]
  advance: [adjustment, adjustment]
  advance_funding: [adjustment, adjustment]
  anticipation_repayment: [adjustment, adjustment]
  climate_order_purchase: [adjustment, adjustment]
  climate_order_refund: [adjustment, adjustment]
  connect_collection_transfer: [adjustment, adjustment]
  connect_reserved_funds: [adjustment, adjustment]
  contribution: [adjustment, adjustment]
  financing_paydown: [adjustment, adjustment]
  financing_paydown_reversal: [adjustment, adjustment]
  financing_payout: [adjustment, adjustment]
  financing_payout_reversal: [adjustment, adjustment]
  issuing_authorization_hold: [adjustment, adjustment]
  issuing_authorization_release: [adjustment, adjustment]
  issuing_dispute: [adjustment, adjustment]
  issuing_transaction: [adjustment, adjustment]
  other_adjustment: [adjustment, adjustment]
  risk_reserved_funds: [adjustment, adjustment]
  unreconciled_customer_funds: [adjustment, adjustment]
  payout: [payout, payout]
  payout_reversal: [payout, payout]
  topup: [topup, payout]
  topup_reversal: [topup, payout]
  transfer: [transfer, payout]
  transfer_reversal: [transfer, payout]
{%- endset -%}
{{ return(fromyaml(classification)) }}
{%- endmacro %}

{#- `part` 0: transactions.type, 1: money class, of a balance transaction with these type and
    reporting-category expressions. -#}
{% macro classify_balance_transaction(type_column, category_column, part) -%}
    {%- set classes = money_classification() -%}
    case
        {%- for name, target in classes['types'].items() if name != 'adjustment' %}
        when {{ type_column }} = '{{ name }}' then '{{ target[part] }}'
        {%- endfor %}
        when {{ type_column }} = 'adjustment' then case
            {%- for name, target in classes['reporting_categories'].items() %}
            when {{ category_column }} = '{{ name }}' then '{{ target[part] }}'
            {%- endfor %}
            else 'unclassified'
        end
        else 'unclassified'
    end
{%- endmacro %}

{#- The money class of a balance transaction (see money_classification). -#}
{% macro money_class(type_column, category_column) -%}
    {{ classify_balance_transaction(type_column, category_column, 1) }}
{%- endmacro %}

{#- Its `transactions.type`. -#}
{% macro transaction_type(type_column, category_column) -%}
    {{ classify_balance_transaction(type_column, category_column, 0) }}
{%- endmacro %}
