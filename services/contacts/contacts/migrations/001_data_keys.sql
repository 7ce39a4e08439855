-- Per-customer data keys for personal data in contact events.
-- Erasure sets the secret to NULL: every value sealed with it becomes unreadable.
CREATE TABLE data_keys (
    customer_id  text        PRIMARY KEY,
    key_id       text        NOT NULL,
    secret       bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    destroyed_at timestamptz
);
