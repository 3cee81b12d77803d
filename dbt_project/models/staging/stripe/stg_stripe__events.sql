with

source as (

    {{ landed_source('stripe', 'events') }}

),

renamed as (

    select
        id as event_id,
        account_id as stripe_account_id,
        type as event_type,
        object_type,
        object_id,
        api_version,
        {{ epoch_to_timestamp('created') }} as created_at,
        livemode as is_livemode,
        _dlt_load_id as dlt_load_id
    from source

)

select * from renamed
