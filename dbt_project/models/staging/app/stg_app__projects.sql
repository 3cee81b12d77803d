with

source as (

    {{ landed_source('app', 'projects') }}

),

renamed as (

    select
        id as project_id,
        name as project_name
    from source

)

select * from renamed
