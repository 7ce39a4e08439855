-- When a campaign started running: a triggered campaign reacts to events from then on.
ALTER TABLE campaigns ADD COLUMN launched_at timestamptz;

-- The trigger of a triggered outreach (NULL for the outreach of a wave, whose wave is then >= 1;
-- triggered outreach has wave 0): what kind of event, which item (the cancelled contract), when
-- it happened, and the category offered (the reason is gone once the customer bought it).
ALTER TABLE outreach_due
    ADD COLUMN trigger_kind   text,
    ADD COLUMN trigger_item   text,
    ADD COLUMN triggered_at   timestamptz,
    ADD COLUMN offer_category text;

-- The latest trigger that planned an outreach, per campaign and customer: the cool-down.
CREATE TABLE trigger_cooldowns (
    campaign_id  text        NOT NULL,
    customer_id  text        NOT NULL,
    triggered_at timestamptz NOT NULL,
    event_id     uuid        NOT NULL,
    PRIMARY KEY (campaign_id, customer_id)
);
