-- The per-customer timeline: one row per event that concerns the customer.
CREATE TABLE timeline_entries (
    customer_id text        NOT NULL,
    entry_id    uuid        NOT NULL,  -- id of the event the entry comes from
    occurred_at timestamptz NOT NULL,
    kind        text        NOT NULL,  -- event type
    channel     text,
    direction   text,
    summary     text        NOT NULL DEFAULT '',
    source      text        NOT NULL,  -- CloudEvents source of the event
    source_ref  text,                  -- id in the source system (touchpoint id, ...)
    correlation_id uuid     NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, entry_id)
);
CREATE INDEX timeline_entries_by_time
    ON timeline_entries (customer_id, occurred_at DESC, entry_id DESC);
