-- The audit trail of personal-data access across all services, from audit.events.v1:
-- who (the token's subject), what (service, route, action), when, outcome; no personal data.
CREATE TABLE audit_trail (
    event_id uuid PRIMARY KEY,
    customer_id text NOT NULL,
    at timestamptz NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    service text NOT NULL,
    method text NOT NULL,
    route text NOT NULL,
    status integer NOT NULL,
    outcome text NOT NULL,
    personal_fields_shown boolean NOT NULL
);
CREATE INDEX audit_trail_by_customer ON audit_trail (customer_id, at DESC, event_id DESC);
CREATE INDEX audit_trail_by_time ON audit_trail (at);
