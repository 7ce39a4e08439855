-- Each customer's consent state folded over the whole history up to one position, so that a
-- question about "now" (or any time at or after `through`) folds only the events after it.
CREATE TABLE consent_snapshots (
    customer_id  text        PRIMARY KEY,
    format       integer     NOT NULL, -- consentledger.snapshots.FORMAT it was written in
    state        jsonb       NOT NULL,
    partition    integer     NOT NULL, -- the position of the last event folded into it
    kafka_offset bigint      NOT NULL,
    through      timestamptz           -- the latest effective time among the events folded
);
