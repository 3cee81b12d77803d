with

source as (

    {{ landed_source('app', 'transactions') }}

),

renamed as (

    select
        id as transaction_id,
        project_id,
        source,
        amount,
        lower(currency) as currency,
        status,
        fee_amount,
        net_amount,
        product_id,
        sku_id,
        created_at
    from source

)

select * from renamed
