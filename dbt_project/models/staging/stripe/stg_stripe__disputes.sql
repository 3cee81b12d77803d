with

source as (

    {{ landed_source('stripe', 'disputes') }}

),

renamed as (

    select
        id as dispute_id,
        account_id as stripe_account_id,
        charge as charge_id,
        payment_intent as payment_intent_id,
        amount,
        lower(currency) as currency,
        status,
        reason,
        balance_transaction_ids,
        metadata,
        {{ epoch_to_timestamp('created') }} as created_at,
        coalesce(is_deleted, false) as is_deleted,
        _dlt_load_id as dlt_load_id
    from source

)

select * from renamed
