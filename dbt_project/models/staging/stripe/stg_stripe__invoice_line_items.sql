with

source as (

    {{ landed_source('stripe', 'invoice_line_items') }}

),

renamed as (

    select
        id as invoice_line_item_id,
        account_id as stripe_account_id,
        invoice as invoice_id,
        amount,
        lower(currency) as currency,
        quantity,
        price_id,
        product_id,
        metadata,
        _dlt_load_id as dlt_load_id
    from source

)

select * from renamed
