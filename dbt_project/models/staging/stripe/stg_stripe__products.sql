with

source as (

    {{ landed_source('stripe', 'products') }}

),

renamed as (

    select
        id as product_id,
        account_id as stripe_account_id,
        name as product_name,
        description,
        active as is_active,
        default_price as default_price_id,
        type as product_type,
        unit_label,
        metadata,
        {{ epoch_to_timestamp('created') }} as created_at,
        {{ epoch_to_timestamp('updated') }} as updated_at,
        livemode as is_livemode,
        coalesce(is_deleted, false) as is_deleted,
        _dlt_load_id as dlt_load_id
    from source

)

select * from renamed
