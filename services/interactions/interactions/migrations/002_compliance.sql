-- Outbound advertising touchpoints waiting to be checked against the consent history.
CREATE TABLE compliance_checks (
    event_id      uuid        PRIMARY KEY,  -- the touchpoint's event id
    customer_id   text        NOT NULL,
    touchpoint_id text        NOT NULL,
    channel       text        NOT NULL,
    purpose       text        NOT NULL,
    campaign_id   text,
    occurred_at   timestamptz NOT NULL,
    arrived_at    timestamptz NOT NULL DEFAULT now(),
    checked_at    timestamptz
);
CREATE INDEX compliance_checks_due ON compliance_checks (arrived_at) WHERE checked_at IS NULL;

-- Findings: advertising that happened while the customer was not eligible.
CREATE TABLE compliance_findings (
    finding_id    uuid        PRIMARY KEY,
    customer_id   text        NOT NULL,
    touchpoint_id text        NOT NULL,
    channel       text        NOT NULL,
    purpose       text        NOT NULL,
    reason        text        NOT NULL,
    occurred_at   timestamptz NOT NULL
);
CREATE INDEX compliance_findings_by_customer ON compliance_findings (customer_id, occurred_at DESC);
CREATE INDEX compliance_findings_by_time ON compliance_findings (occurred_at DESC, finding_id DESC);

-- What each campaign advertises, for the existing-customer exemption's "similar products".
CREATE TABLE campaign_categories (
    campaign_id      text PRIMARY KEY,
    product_category text
);
