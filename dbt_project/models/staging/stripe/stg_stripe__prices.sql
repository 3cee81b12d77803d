with

source as (

    {{ landed_source('stripe', 'prices') }}

),

renamed as (

    select
        id as price_id,
        account_id as stripe_account_id,
        product as product_id,
        active as is_active,
        lower(currency) as currency,
        unit_amount,
        type as price_type,
        recurring_interval,
        recurring_interval_count,
        lookup_key,
        nickname,
        metadata,
        {{ epoch_to_timestamp('created') }} as created_at,
        livemode as is_livemode,
        coalesce(is_deleted, false) as is_deleted,
        _dlt_load_id as dlt_load_id
    from source

)

select * from renamed
