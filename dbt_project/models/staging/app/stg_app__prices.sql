with

source as (

    {{ landed_source('app', 'prices') }}

),

renamed as (

    select
        id as price_id,
        project_id,
        product_id,
        stripe_price_id,
        unit_amount,
        lower(currency) as currency,
        "interval" as recurring_interval,
        coalesce(active, true) as is_active
    from source

)

select * from renamed
