-- Outreach dispatched to each customer, for attributing what comes back (by id, causation or
-- window): the ids of the outreach's request and dispatch events, which a channel system's
-- report may name as its cause.
CREATE TABLE dispatched_outreach (
    outreach_id         uuid        PRIMARY KEY,
    customer_id         text        NOT NULL,
    campaign_id         text        NOT NULL,
    channel             text        NOT NULL,
    dispatched_at       timestamptz NOT NULL,
    request_event_id    uuid        NOT NULL,
    dispatched_event_id uuid        NOT NULL
);
CREATE INDEX dispatched_outreach_by_customer ON dispatched_outreach (customer_id, dispatched_at);
CREATE INDEX dispatched_outreach_by_request ON dispatched_outreach (request_event_id);
CREATE INDEX dispatched_outreach_by_dispatch ON dispatched_outreach (dispatched_event_id);

-- Each response attributed, once: its ResponseReceived went into the outbox in the same
-- transaction, so reading its source again publishes nothing new.
CREATE TABLE responses_attributed (
    response_id     text        PRIMARY KEY,
    outreach_id     uuid        NOT NULL,
    source_event_id uuid        NOT NULL,
    attributed_by   text        NOT NULL,
    received_at     timestamptz NOT NULL
);
