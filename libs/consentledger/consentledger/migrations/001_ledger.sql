-- Every consent event of a customer, in topic order: the history eligibility and proof fold.
CREATE TABLE consent_history (
    event_id       uuid        PRIMARY KEY,
    customer_id    text        NOT NULL,
    type           text        NOT NULL,
    schema_version integer     NOT NULL,
    effective_at   timestamptz,          -- when the fact took effect (granted, revoked, ...)
    recorded_at    timestamptz NOT NULL, -- the envelope's time
    source         text        NOT NULL,
    correlation_id uuid        NOT NULL,
    causation_id   uuid,
    data           jsonb       NOT NULL,
    partition      integer     NOT NULL,
    kafka_offset   bigint      NOT NULL
);
CREATE INDEX consent_history_by_customer ON consent_history (customer_id, partition, kafka_offset);

-- What the contacts topic says that eligibility needs: the customer's kind and purchases.
CREATE TABLE customer_facts (
    customer_id   text        PRIMARY KEY,
    kind          text        NOT NULL,
    registered_at timestamptz NOT NULL
);

CREATE TABLE customer_purchases (
    event_id               uuid        PRIMARY KEY,
    customer_id            text        NOT NULL,
    purchase_id            text        NOT NULL,
    category               text        NOT NULL,
    purchased_at           timestamptz NOT NULL,
    email_obtained         boolean     NOT NULL,
    objection_notice_given boolean     NOT NULL
);
CREATE INDEX customer_purchases_by_customer ON customer_purchases (customer_id);
