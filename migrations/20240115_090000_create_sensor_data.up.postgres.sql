-- PostgreSQL: instants as timestamptz, free-length text, and comments in the catalog.
-- (On TimescaleDB, a later migration can run: SELECT create_hypertable('sensor_data', 'timestamp');)
CREATE TABLE sensor_data (
    "timestamp" timestamptz      NOT NULL,
    sensor_id   text             NOT NULL,
    site        text,
    metric      text             NOT NULL,
    value       double precision,
    unit        text,
    quality     real CHECK (quality BETWEEN 0 AND 1),
    battery     real CHECK (battery BETWEEN 0 AND 100),
    PRIMARY KEY (sensor_id, metric, "timestamp")
);

COMMENT ON TABLE sensor_data IS 'TSIoT readings; one row per sensor, metric and instant';
COMMENT ON COLUMN sensor_data.quality IS 'signal quality 0..1; analyses keep quality >= 0.8';
