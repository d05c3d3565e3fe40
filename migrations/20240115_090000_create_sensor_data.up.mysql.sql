-- MySQL/MariaDB: TIMESTAMP stops in 2038 and may auto-update, so instants are DATETIME(6) in UTC
-- (colmig runs its sessions with time_zone = '+00:00'); InnoDB for transactional loads.
CREATE TABLE sensor_data (
    `timestamp` DATETIME(6)  NOT NULL,
    sensor_id   VARCHAR(64)  NOT NULL,
    site        VARCHAR(64),
    metric      VARCHAR(64)  NOT NULL,
    value       DOUBLE,
    unit        VARCHAR(16),
    quality     FLOAT COMMENT 'signal quality 0..1; analyses keep quality >= 0.8',
    battery     FLOAT COMMENT 'percent',
    PRIMARY KEY (sensor_id, metric, `timestamp`)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
