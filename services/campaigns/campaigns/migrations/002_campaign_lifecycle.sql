-- Every event about a campaign as a whole, in topic order: the campaign's state folds from them.
CREATE TABLE campaign_events (
    event_id     uuid        PRIMARY KEY,
    campaign_id  text        NOT NULL,
    type         text        NOT NULL,
    data         jsonb       NOT NULL,
    partition    integer     NOT NULL,
    kafka_offset bigint      NOT NULL
);
CREATE INDEX campaign_events_by_campaign ON campaign_events (campaign_id, partition, kafka_offset);

-- The campaign as it stands, folded from its events after each batch (for get and list).
ALTER TABLE campaigns
    ADD COLUMN status     text        NOT NULL DEFAULT 'draft',
    ADD COLUMN definition jsonb,
    ADD COLUMN waves      jsonb       NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN ended_at   timestamptz;
CREATE INDEX campaigns_by_creation ON campaigns (created_at, campaign_id);

-- Outreach waiting for a later moment (deferred) or never to be decided (cancelled).
ALTER TABLE outreach
    ADD COLUMN wave            integer,
    ADD COLUMN deferred_until  timestamptz,
    ADD COLUMN deferral_reason text,
    ADD COLUMN deferrals       integer     NOT NULL DEFAULT 0,
    ADD COLUMN last_deferral   uuid,
    ADD COLUMN cancelled_at    timestamptz,
    ADD COLUMN cancel_reason   text;
CREATE INDEX outreach_by_campaign ON outreach (campaign_id, outreach_id);
