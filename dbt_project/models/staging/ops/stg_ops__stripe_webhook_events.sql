with

source as (

    {{ landed_source('ops', 'stripe_webhook_events') }}

),

renamed as (

    select
        id as webhook_event_id,
        account_id as stripe_account_id,
        type as event_type,
        livemode as is_livemode,
        {{ epoch_to_timestamp('created') }} as event_created_at,
        payload_hash,
        received_at,
        processed_at,
        status,
        run_id
    from source

)

select * from renamed
