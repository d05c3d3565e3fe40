-- MySQL/MariaDB indexes belong to their table: DROP INDEX needs ON <table>.
DROP INDEX idx_sensor_data_metric_ts ON sensor_data;
DROP INDEX idx_sensor_data_site_ts ON sensor_data;
