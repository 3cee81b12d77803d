with

source as (

    {{ landed_source('stripe', 'payout_balance_transactions') }}

),

renamed as (

    select
        account_id as stripe_account_id,
        payout_id,
        balance_transaction_id,
        _dlt_load_id as dlt_load_id
    from source

)

select * from renamed
