-- Personal data (GDPR): who owns the device and where it stands. Both stay NULL until known.
ALTER TABLE sensor_data ADD COLUMN owner_email VARCHAR(255);
ALTER TABLE sensor_data ADD COLUMN device_location VARCHAR(64);  -- "lat,lon"; coarsen before export

-- Everything but the personal columns, for dashboards and exports.
CREATE VIEW sensor_data_public AS
SELECT timestamp, sensor_id, site, metric, value, unit, quality, battery
FROM sensor_data;
