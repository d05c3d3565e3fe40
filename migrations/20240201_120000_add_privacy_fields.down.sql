DROP VIEW sensor_data_public;
ALTER TABLE sensor_data DROP COLUMN device_location;
ALTER TABLE sensor_data DROP COLUMN owner_email;
