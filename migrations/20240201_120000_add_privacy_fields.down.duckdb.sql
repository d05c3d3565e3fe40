-- DuckDB refuses ALTER TABLE ... DROP COLUMN while indexes exist on the table
-- ("Dependency Error: Cannot alter entry"), so drop and rebuild them around it.
-- The whole file runs in one transaction, so nothing is half done on failure.
DROP VIEW sensor_data_public;
DROP INDEX idx_sensor_data_metric_ts;
DROP INDEX idx_sensor_data_site_ts;
ALTER TABLE sensor_data DROP COLUMN device_location;
ALTER TABLE sensor_data DROP COLUMN owner_email;
CREATE INDEX idx_sensor_data_site_ts ON sensor_data (site, timestamp);
CREATE INDEX idx_sensor_data_metric_ts ON sensor_data (metric, timestamp);
