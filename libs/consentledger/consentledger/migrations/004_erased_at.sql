-- When contacts erased the customer (GDPR Art. 17): every decision from then on is `erased`.
ALTER TABLE customer_facts ADD COLUMN erased_at timestamptz;
