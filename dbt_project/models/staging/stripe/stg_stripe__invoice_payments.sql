with

source as (

    {{ landed_source('stripe', 'invoice_payments') }}

),

renamed as (

    select
        id as invoice_payment_id,
        account_id as stripe_account_id,
        invoice as invoice_id,
        amount_paid,
        amount_requested,
        lower(currency) as currency,
        status,
        is_default,
        payment_type,
        payment_intent as payment_intent_id,
        charge as charge_id,
        {{ epoch_to_timestamp('paid_at') }} as paid_at,
        {{ epoch_to_timestamp('created') }} as created_at,
        livemode as is_livemode,
        coalesce(is_deleted, false) as is_deleted,
        _dlt_load_id as dlt_load_id
    from source

)

select * from renamed
