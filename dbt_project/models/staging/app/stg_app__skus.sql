with

source as (

    {{ landed_source('app', 'skus') }}

),

renamed as (

    select
        id as sku_id,
        project_id,
        product_id,
        price_id,
        name as sku_name
    from source

)

select * from renamed
