with

source as (

    {{ landed_source('ops', 'connector_sync_state') }}

),

renamed as (

    select
        project_id,
        account_id as stripe_account_id,
        source,
        "cursor" as cursor_json,
        updated_at
    from source

)

select * from renamed
