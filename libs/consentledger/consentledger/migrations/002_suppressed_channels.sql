-- Channels a customer is suppressed on from registration (contact points of an erased customer).
ALTER TABLE customer_facts ADD COLUMN suppressed_channels text[] NOT NULL DEFAULT '{}';
