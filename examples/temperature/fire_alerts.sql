-- The fire-alert rule of examples/temperature/app.py in SQL: the mean temperature per
-- sensor over tumbling one-minute windows of event time (the reading's own timestamp),
-- one final result per window once it closes (10 s of grace after a watermark that
-- trails the newest reading by 2 s; idle partitions are left out after 30 s), and an
-- alert for every window whose exact mean is above 40 °C.
--
--   kstreamlite sql run examples/temperature/fire_alerts.sql --application-id fire-alerts

CREATE STREAM readings (
    sensor_id   VARCHAR KEY,  -- the record key
    temperature DOUBLE,       -- °C
    timestamp   BIGINT        -- epoch ms: the event time
) WITH (
    KAFKA_TOPIC = 'sensor-readings',
    VALUE_FORMAT = 'JSON',
    TIMESTAMP = 'timestamp',
    WATERMARK_DELAY = '2 SECONDS',  -- kstreamlite extension: bounded out-of-orderness
    IDLENESS = '30 SECONDS'         -- kstreamlite extension: idle inputs stop holding time
);

CREATE TABLE fire_alerts WITH (KAFKA_TOPIC = 'fire-alerts') AS
    SELECT sensor_id,
           WINDOWSTART AS window_start,
           WINDOWEND AS window_end,
           ROUND(AVG(temperature), 2) AS average,
           COUNT(*) AS count
    FROM readings
    WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 10 SECONDS)
    GROUP BY sensor_id
    HAVING AVG(temperature) > 40.0
    EMIT FINAL;
