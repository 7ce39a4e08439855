-- Duplicates merged into a surviving customer (ContactsMerged), chains resolved to the last
-- survivor. Read models re-key a duplicate's rows to its survivor whenever they arrive, so a
-- rebuild that meets the merge before the duplicate's own events ends the same as live.
CREATE TABLE customer_merges (
    duplicate text PRIMARY KEY,
    survivor  text NOT NULL
);
CREATE INDEX customer_merges_by_survivor ON customer_merges (survivor);
