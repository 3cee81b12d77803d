with

source as (

    {{ landed_source('ops', 'sync_requests') }}

),

renamed as (

    select
        id as sync_request_id,
        kind,
        project_id,
        account_id as stripe_account_id,
        {{ epoch_to_timestamp('since') }} as since_at,
        status,
        run_id,
        error as error_message,
        created_at,
        updated_at
    from source

)

select * from renamed
