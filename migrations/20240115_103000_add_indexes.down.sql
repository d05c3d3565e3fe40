DROP INDEX idx_sensor_data_metric_ts;
DROP INDEX idx_sensor_data_site_ts;
