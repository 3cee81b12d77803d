with

source as (

    {{ landed_source('stripe', 'charges') }}

),

renamed as (

    select
        id as charge_id,
        account_id as stripe_account_id,
        payment_intent as payment_intent_id,
        invoice as invoice_id,
        amount,
        amount_captured,
        amount_refunded,
        lower(currency) as currency,
        status,
        paid as is_paid,
        captured as is_captured,
        refunded as is_refunded,
        disputed as is_disputed,
        balance_transaction as balance_transaction_id,
        failure_code,
        failure_message,
        customer as customer_id,
        description,
        payment_method_type,
        card_brand,
        card_funding,
        card_country,
        outcome_type,
        metadata,
        {{ epoch_to_timestamp('created') }} as created_at,
        livemode as is_livemode,
        coalesce(is_deleted, false) as is_deleted,
        _dlt_load_id as dlt_load_id
    from source

)

select * from renamed
