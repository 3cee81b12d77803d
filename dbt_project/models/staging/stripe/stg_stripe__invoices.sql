with

source as (

    {{ landed_source('stripe', 'invoices') }}

),

renamed as (

    select
        id as invoice_id,
        account_id as stripe_account_id,
        customer as customer_id,
        status,
        lower(currency) as currency,
        total,
        amount_paid,
        metadata,
        {{ epoch_to_timestamp('created') }} as created_at,
        coalesce(is_deleted, false) as is_deleted,
        _dlt_load_id as dlt_load_id
    from source

)

select * from renamed
