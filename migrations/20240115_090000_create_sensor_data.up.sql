-- TSIoT time-series readings: one row per sensor, metric and instant.
-- This generic file serves SQLite and DuckDB; PostgreSQL and MySQL/MariaDB have their own
-- variants (.up.postgres.sql, .up.mysql.sql) for zoned and microsecond timestamps.
CREATE TABLE sensor_data (
    timestamp  TIMESTAMP        NOT NULL,
    sensor_id  VARCHAR(64)      NOT NULL,
    site       VARCHAR(64),
    metric     VARCHAR(64)      NOT NULL,
    value      DOUBLE PRECISION,
    unit       VARCHAR(16),
    quality    REAL,            -- 0.0 .. 1.0; transforms filter on quality >= 0.8
    battery    REAL,            -- percent
    PRIMARY KEY (sensor_id, metric, timestamp)
);
