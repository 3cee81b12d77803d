with

source as (

    {{ landed_source('stripe', 'refunds') }}

),

renamed as (

    select
        id as refund_id,
        account_id as stripe_account_id,
        charge as charge_id,
        payment_intent as payment_intent_id,
        amount,
        lower(currency) as currency,
        status,
        reason,
        balance_transaction as balance_transaction_id,
        metadata,
        {{ epoch_to_timestamp('created') }} as created_at,
        coalesce(is_deleted, false) as is_deleted,
        _dlt_load_id as dlt_load_id
    from source

)

select * from renamed
