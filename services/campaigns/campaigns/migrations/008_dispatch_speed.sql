-- The outbox keeps each event's value as it is published (the encoded JSON, byte for byte, which
-- `json` stores as given and `jsonb` would not), so the relay sends it without encoding it again.
-- Rows written before keep their content; their keys come out in jsonb's order.
ALTER TABLE outbox ALTER COLUMN envelope TYPE json USING envelope::json;

-- A round takes due outreach in (due_at, outreach_id) order: the index gives the first rows of
-- that order at once, where the index on due_at alone left every row due at one moment (a
-- whole wave) to be sorted again in each round.
CREATE INDEX outreach_due_in_order ON outreach_due (due_at, outreach_id);
DROP INDEX outreach_due_by_time;
