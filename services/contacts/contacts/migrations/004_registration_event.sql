-- The event that registered the customer: a registration retried with the same
-- Idempotency-Key finds its first answer here.
ALTER TABLE profiles ADD COLUMN registered_by uuid;
