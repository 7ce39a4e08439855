-- A customer the expiry job could not evaluate (a consent ledger it cannot fold), with the
-- reason and the version of the customer's state it failed on: not tried again on every round,
-- nor stopping the customers after it; tried again once the state changes (a new event).
CREATE TABLE expiry_failures (
    customer_id text        PRIMARY KEY,
    as_of       timestamptz NOT NULL, -- consent_state.as_of when it failed
    failed_at   timestamptz NOT NULL,
    reason      text        NOT NULL
);
