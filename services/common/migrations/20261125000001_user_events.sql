-- The columns of the original stack, plus app, session and insert time.
CREATE TABLE IF NOT EXISTS user_events (
    event_id        UUID PRIMARY KEY,
    event_type      TEXT        NOT NULL,
    location_type   TEXT        NOT NULL,
    component_name  TEXT,
    page_path       TEXT,
    page_title      TEXT,
    "timestamp"     TIMESTAMPTZ NOT NULL,
    user_metadata   JSONB       NOT NULL DEFAULT '{}'::jsonb,
    full_event_data JSONB       NOT NULL,
    received_at     TIMESTAMPTZ NOT NULL,
    app_name        TEXT,
    app_version     TEXT,
    session_id      TEXT,
    anonymous_id    TEXT,
    inserted_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Newest first, and the cursor (timestamp, event_id) of GET /events.
CREATE INDEX IF NOT EXISTS user_events_timestamp_idx ON user_events ("timestamp" DESC, event_id DESC);
-- The filters of GET /events and the per-type counts of GET /stats.
CREATE INDEX IF NOT EXISTS user_events_type_timestamp_idx ON user_events (event_type, "timestamp" DESC);
CREATE INDEX IF NOT EXISTS user_events_component_timestamp_idx ON user_events (component_name, "timestamp" DESC);
CREATE INDEX IF NOT EXISTS user_events_page_timestamp_idx ON user_events (page_path, "timestamp" DESC);
