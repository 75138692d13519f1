-- Where each event was in Kafka, for `ptrack query trace`: its partition and offset, and
-- the message's timestamp (set by the collector's producer when it wrote the message).
-- Nullable and without a default, so adding them rewrites nothing and rows stored before
-- this migration stay readable (they show these stages as unknown).
ALTER TABLE user_events
    ADD COLUMN IF NOT EXISTS kafka_partition INTEGER,
    ADD COLUMN IF NOT EXISTS kafka_offset    BIGINT,
    ADD COLUMN IF NOT EXISTS kafka_timestamp TIMESTAMPTZ;
