DROP FUNCTION mask_email(text);
DROP FUNCTION sensor_data_purge(interval);
