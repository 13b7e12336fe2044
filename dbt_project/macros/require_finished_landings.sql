{#- Refuse to build while raw.* holds part of a partition whose landing stopped half-way
    (billing_pipeline/warehouse/landing_marks.py): land it again first. -#}
{% macro require_finished_landings() %}
    {% if execute %}
        {% set marks = run_query(
            "select count(*) from duckdb_tables() where database_name = current_database()"
            " and schema_name = 'ingest' and table_name = 'landings_in_progress'"
        ) %}
        {% if marks.columns[0].values()[0] > 0 %}
            {% set unfinished = run_query(
                "select source || ' ' || partition_date || ' (run ' || run_id || ')'"
                " from ingest.landings_in_progress order by partition_date, source"
            ) %}
            {% if unfinished.rows | length > 0 %}
                {{ exceptions.raise_compiler_error(
                    "raw.* holds part of a partition whose landing stopped half-way: "
                    ~ unfinished.columns[0].values() | join(", ")
                    ~ ". Land it again (rerun its ingest asset) before building."
                ) }}
            {% endif %}
        {% endif %}
    {% endif %}
{% endmacro %}
