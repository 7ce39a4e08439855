-- Every kind (consumer, business) a customer had and since when: registration and corrections,
-- so that eligibility as of a time applies the kind known to hold then.
CREATE TABLE customer_kinds (
    event_id     uuid        PRIMARY KEY,
    customer_id  text        NOT NULL,
    kind         text        NOT NULL,
    effective_at timestamptz NOT NULL,
    seq          bigserial   NOT NULL
);
CREATE INDEX customer_kinds_by_customer ON customer_kinds (customer_id, effective_at, seq);
INSERT INTO customer_kinds (event_id, customer_id, kind, effective_at)
    SELECT gen_random_uuid(), customer_id, kind, registered_at FROM customer_facts;
