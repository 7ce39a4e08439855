-- The current consent state per customer, as published on consent.state.v1.
CREATE TABLE consent_state (
    customer_id text        PRIMARY KEY,
    as_of       timestamptz NOT NULL,
    state       jsonb       NOT NULL
);
