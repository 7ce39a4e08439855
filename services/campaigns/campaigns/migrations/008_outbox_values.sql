-- The outbox keeps each event's value as it is published (the encoded JSON, byte for byte, which
-- `json` stores as given and `jsonb` would not), so the relay sends it without encoding it again.
-- Rows written before keep their content; their keys come out in jsonb's order.
ALTER TABLE outbox ALTER COLUMN envelope TYPE json USING envelope::json;
