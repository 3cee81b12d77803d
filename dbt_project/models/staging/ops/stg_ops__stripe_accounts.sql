with

source as (

    {{ landed_source('ops', 'stripe_accounts') }}

),

renamed as (

    select
        stripe_account_id,
        project_id,
        livemode as is_livemode,
        status,
        scope,
        created_at,
        updated_at
    from source

)

select * from renamed
