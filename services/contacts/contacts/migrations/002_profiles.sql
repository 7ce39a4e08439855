-- Customer profiles as the contacts service knows them (it owns this personal data).
CREATE TABLE profiles (
    customer_id   text        PRIMARY KEY,
    kind          text        NOT NULL,
    profile       jsonb       NOT NULL,
    registered_at timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    erased_at     timestamptz
);

-- Phone numbers and email addresses, for search; dropped on erasure.
CREATE TABLE contact_points (
    customer_id text NOT NULL,
    kind        text NOT NULL,  -- 'phone' or 'email'
    value       text NOT NULL,
    PRIMARY KEY (kind, value, customer_id)
);

-- Salted hashes of erased customers' contact points: still blocked for marketing.
CREATE TABLE suppressed_contact_points (
    hash      text        PRIMARY KEY,
    erased_at timestamptz NOT NULL
);

-- Purchases and contracts, for the profile and the data-subject export.
CREATE TABLE customer_products (
    event_id    uuid        PRIMARY KEY,
    customer_id text        NOT NULL,
    type        text        NOT NULL,
    occurred_at timestamptz NOT NULL,
    data        jsonb       NOT NULL
);
CREATE INDEX customer_products_by_customer ON customer_products (customer_id, occurred_at);
