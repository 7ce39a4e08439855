-- What the campaigns worker knows about each customer for audiences (no readable personal data
-- besides the sealed contact points it hands to the channels).
CREATE TABLE audience_facts (
    customer_id    text        PRIMARY KEY,
    kind           text,
    registered_at  timestamptz,
    customer_since date,
    interests      text[]      NOT NULL DEFAULT '{}',
    time_zone      text,
    contact_points jsonb       NOT NULL DEFAULT '{}'::jsonb,  -- {field name: value as on the topic}
    objected       boolean     NOT NULL DEFAULT false,
    erased         boolean     NOT NULL DEFAULT false
);

-- Products bought and contracts held or cancelled, by category.
CREATE TABLE audience_holdings (
    customer_id  text        NOT NULL,
    item_id      text        NOT NULL,  -- 'purchase:<id>' or 'contract:<id>'
    category     text,
    started_at   timestamptz,
    cancelled_at timestamptz,
    PRIMARY KEY (customer_id, item_id)
);

-- The latest touchpoint per customer, channel and direction (outbound = contact, inbound = response).
CREATE TABLE audience_touches (
    customer_id text        NOT NULL,
    touch       text        NOT NULL,  -- '<channel>/<direction>'
    last_at     timestamptz NOT NULL,
    PRIMARY KEY (customer_id, touch)
);

-- Waves launched and how far planning got (customers are planned in id order).
CREATE TABLE wave_plans (
    campaign_id   text        NOT NULL,
    wave          integer     NOT NULL,
    launched_at   timestamptz NOT NULL,
    due_from      timestamptz NOT NULL,
    planned_after text        NOT NULL DEFAULT '',
    audience      integer     NOT NULL DEFAULT 0,
    planned       integer     NOT NULL DEFAULT 0,
    done          boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (campaign_id, wave)
);

-- Outreach planned and not finally decided yet, by the time it falls due.
CREATE TABLE outreach_due (
    outreach_id uuid        PRIMARY KEY,
    campaign_id text        NOT NULL,
    wave        integer     NOT NULL,
    customer_id text        NOT NULL,
    channel     text        NOT NULL,
    purpose     text        NOT NULL,
    due_at      timestamptz NOT NULL,
    deferrals   integer     NOT NULL DEFAULT 0
);
CREATE INDEX outreach_due_by_time ON outreach_due (due_at);

-- Every outreach every campaign authorized, for the frequency caps.
CREATE TABLE customer_contacts (
    outreach_id uuid        PRIMARY KEY,
    customer_id text        NOT NULL,
    channel     text        NOT NULL,
    at          timestamptz NOT NULL
);
CREATE INDEX customer_contacts_by_customer ON customer_contacts (customer_id, at);

-- Events decided in a database transaction and not yet published (the outbox).
CREATE TABLE outbox (
    seq           bigserial   PRIMARY KEY,
    topic         text        NOT NULL,
    envelope      jsonb       NOT NULL,
    contact       jsonb,      -- a request: {field, value} of the contact point to open and seal
    claimed_until timestamptz
);
