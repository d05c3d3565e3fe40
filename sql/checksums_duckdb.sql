-- colmig's canonical -validate checksums, computed by hand in DuckDB, here straight over the
-- Parquet files the README's first command writes (run from the repository root):
--   duckdb -c ".read sql/checksums_duckdb.sql"   or   python -c "import duckdb; ..."
-- The same numbers come out of sql/checksums_postgres.sql for the same rows in PostgreSQL.
SELECT
    COUNT(*) AS row_count,
    COUNT(*) - COUNT("timestamp") AS timestamp_nulls,
    CAST(SUM(epoch_us("timestamp")) AS VARCHAR) AS timestamp_sum,
    COUNT(*) - COUNT(sensor_id) AS sensor_id_nulls,
    CAST(SUM(CAST('0x' || substr(md5(CAST(sensor_id AS VARCHAR)), 1, 15) AS BIGINT)) AS VARCHAR)
        AS sensor_id_sum,
    COUNT(*) - COUNT(value) AS value_nulls,
    SUM(CAST(value AS DOUBLE)) AS value_sum,
    COUNT(*) - COUNT(quality) AS quality_nulls,
    SUM(CAST(quality AS DOUBLE)) AS quality_sum
FROM read_parquet('out/sample_parquet/**/*.parquet');
