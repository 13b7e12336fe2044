{#- An incremental Python model writes each build's new rows to a scratch table,
    <model>__dbt_tmp<timestamp>, that dbt-duckdb (1.11) creates as a real table in `main`:
    the Python code runs on its own cursor, which a temporary table would not outlive. Having
    asked for a temporary table, dbt-duckdb never drops it, so every incremental build left one
    behind in billing.duckdb: a daily run, a table a day, forever. As the model's post-hook,
    this drops every such table of the model, this build's and any earlier build's. -#}
{% macro drop_python_model_scratch() %}
    {% if execute %}
        {% set scratch = run_query(
            "select schema_name, table_name from duckdb_tables()"
            " where database_name = current_database()"
            " and starts_with(table_name, '" ~ this.identifier ~ "__dbt_tmp')"
        ) %}
        {% for schema_name, table_name in scratch.rows %}
            {% do run_query(
                "drop table if exists " ~ adapter.quote(schema_name) ~ "." ~ adapter.quote(table_name)
            ) %}
        {% endfor %}
    {% endif %}
{% endmacro %}
