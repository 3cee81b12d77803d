with

source as (

    {{ landed_source('stripe', 'payouts') }}

),

renamed as (

    select
        id as payout_id,
        account_id as stripe_account_id,
        amount,
        lower(currency) as currency,
        status,
        {{ epoch_to_timestamp('arrival_date') }} as arrival_date,
        automatic as is_automatic,
        method,
        type as payout_type,
        source_type,
        balance_transaction as balance_transaction_id,
        failure_balance_transaction as failure_balance_transaction_id,
        failure_code,
        reconciliation_status,
        description,
        metadata,
        {{ epoch_to_timestamp('created') }} as created_at,
        livemode as is_livemode,
        coalesce(is_deleted, false) as is_deleted,
        _dlt_load_id as dlt_load_id
    from source

)

select * from renamed
