with

source as (

    {{ landed_source('stripe', 'payment_intents') }}

),

renamed as (

    select
        id as payment_intent_id,
        account_id as stripe_account_id,
        amount,
        amount_received,
        lower(currency) as currency,
        status,
        customer as customer_id,
        latest_charge as latest_charge_id,
        description,
        cancellation_reason,
        last_payment_error_code,
        metadata,
        {{ epoch_to_timestamp('created') }} as created_at,
        {{ epoch_to_timestamp('canceled_at') }} as canceled_at,
        livemode as is_livemode,
        coalesce(is_deleted, false) as is_deleted,
        _dlt_load_id as dlt_load_id
    from source

)

select * from renamed
