{#- Every listed column of the model is non-null: one dbt node and one scan for what were
    one not_null node per column. A test node costs dbt ~60 ms of Python whatever it checks
    (the 10-payment day's fixed cost), and a model's columns are scanned once instead of once
    per column. Each failing row is a row with a null, flagging which listed columns are null.
    Models with a single non-null column keep dbt's own not_null. -#}
{% test not_null_columns(model, columns) %}
select
    {%- for column in columns %}
    {{ column }} is null as {{ column }}_is_null{{ "," if not loop.last }}
    {%- endfor %}
from {{ model }}
where
    {%- for column in columns %}
    {{ "or " if not loop.first }}{{ column }} is null
    {%- endfor %}
{% endtest %}
