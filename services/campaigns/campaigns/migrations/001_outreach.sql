-- Campaigns as created, so a customer's outreach can name the campaign it belongs to.
CREATE TABLE campaigns (
    campaign_id      text        PRIMARY KEY,
    name             text        NOT NULL,
    channel          text        NOT NULL,
    purpose          text        NOT NULL,
    product_category text,
    created_at       timestamptz NOT NULL
);

-- Each outreach to a customer: planned, decided at dispatch time, dispatched, answered.
-- A row may start from any of its events (they can be read before OutreachPlanned), so
-- everything but the keys is filled in as the events arrive.
CREATE TABLE outreach (
    outreach_id   uuid        PRIMARY KEY,
    customer_id   text        NOT NULL,
    campaign_id   text        NOT NULL,
    channel       text        NOT NULL,
    purpose       text,
    planned_for   timestamptz,
    decision      text        CHECK (decision IN ('authorized', 'blocked')),
    decided_at    timestamptz,
    legal_basis   text,
    consent_id    uuid,
    block_reason  text,
    dispatched_at timestamptz,
    responses     jsonb       NOT NULL DEFAULT '[]'::jsonb  -- [{response_id, kind, channel, received_at}]
);
CREATE INDEX outreach_by_customer ON outreach (customer_id, planned_for);
