DROP PROCEDURE sensor_data_purge;
