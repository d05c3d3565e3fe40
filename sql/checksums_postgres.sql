-- colmig's canonical -validate checksums, computed by hand on PostgreSQL.
-- Compare with what colmig reports (or with the same query on the source) to check a table
-- independently of colmig. Shown for the TSIoT sensor_data table of data/sample; adapt the
-- column list: one COUNT(*) - COUNT(col) and one checksum per column, by type:
--   integers/decimals: SUM(col)::text            booleans: SUM(CASE WHEN col THEN 1 ELSE 0 END)
--   floats: SUM(col::float8) (compare with a relative tolerance of 1e-9)
--   timestamps: SUM(EXTRACT(EPOCH FROM col) * 1000000)::numeric(38,0)
--   text/json/uuid: SUM(('x' || substr(md5(col::text), 1, 15))::bit(60)::bigint)
SELECT
    COUNT(*) AS row_count,
    COUNT(*) - COUNT("timestamp") AS timestamp_nulls,
    SUM(EXTRACT(EPOCH FROM "timestamp") * 1000000)::numeric(38, 0)::text AS timestamp_sum,
    COUNT(*) - COUNT(sensor_id) AS sensor_id_nulls,
    SUM(('x' || substr(md5(sensor_id::text), 1, 15))::bit(60)::bigint)::text AS sensor_id_sum,
    COUNT(*) - COUNT(value) AS value_nulls,
    SUM(value::float8) AS value_sum,
    COUNT(*) - COUNT(quality) AS quality_nulls,
    SUM(quality::float8) AS quality_sum
FROM sensor_data;
