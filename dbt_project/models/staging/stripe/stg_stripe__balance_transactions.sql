with

source as (

    {{ landed_source('stripe', 'balance_transactions') }}

),

renamed as (

    select
        id as balance_transaction_id,
        account_id as stripe_account_id,
        amount,
        fee,
        net,
        lower(currency) as currency,
        exchange_rate,
        reporting_category,
        type as balance_transaction_type,
        source as source_id,
        status,
        {{ epoch_to_timestamp('available_on') }} as available_on,
        description,
        fee_details,
        {{ epoch_to_timestamp('created') }} as created_at,
        _dlt_load_id as dlt_load_id
    from source

)

select * from renamed
