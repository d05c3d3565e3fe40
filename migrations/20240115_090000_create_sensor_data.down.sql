DROP TABLE sensor_data;
