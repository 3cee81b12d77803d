with

source as (

    {{ landed_source('app', 'products') }}

),

renamed as (

    select
        id as product_id,
        project_id,
        name as product_name,
        stripe_product_id,
        coalesce(active, true) as is_active
    from source

)

select * from renamed
