-- Dashboards read one site or one metric over a time range.
CREATE INDEX idx_sensor_data_site_ts ON sensor_data (site, timestamp);
CREATE INDEX idx_sensor_data_metric_ts ON sensor_data (metric, timestamp);
