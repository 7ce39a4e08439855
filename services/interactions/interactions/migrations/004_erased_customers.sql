-- Customers erased (ContactErased): a note that reaches the timeline after the erasure, from
-- another topic or a duplicate merged into them, is dropped as it arrives.
CREATE TABLE erased_customers (
    customer_id text        PRIMARY KEY,
    erased_at   timestamptz NOT NULL DEFAULT now()
);
