-- The mysql client needs DELIMITER around a body with ';' inside; colmig understands the same
-- lines, so this file also runs as written in `mysql < file`.
DELIMITER //
CREATE PROCEDURE sensor_data_purge(IN retain_days INT)
BEGIN
    DELETE FROM sensor_data WHERE `timestamp` < UTC_TIMESTAMP(6) - INTERVAL retain_days DAY;
    SELECT ROW_COUNT() AS removed;
END //
DELIMITER ;
