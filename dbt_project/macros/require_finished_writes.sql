{#- Refuse to build while a partition write stopped half-way (a landing or an event-store
    append that commits in batches: billing_pipeline/warehouse/partition_marks.py). -#}
{% macro require_finished_writes() %}
    {% if execute %}
        {% set marks = run_query(
            "select count(*) from duckdb_tables() where database_name = current_database()"
            " and schema_name = 'ingest' and table_name = 'unfinished_writes'"
        ) %}
        {% if marks.columns[0].values()[0] > 0 %}
            {% set unfinished = run_query(
                "select writer || ' ' || partition_date || ' (run ' || run_id || ')'"
                " from ingest.unfinished_writes order by partition_date, writer"
            ) %}
            {% if unfinished.rows | length > 0 %}
                {{ exceptions.raise_compiler_error(
                    "a partition write stopped half-way: "
                    ~ unfinished.columns[0].values() | join(", ")
                    ~ ". Rerun it (materialize that partition again) before building."
                ) }}
            {% endif %}
        {% endif %}
    {% endif %}
{% endmacro %}
