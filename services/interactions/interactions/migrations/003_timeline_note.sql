-- The personal part of an entry (what was said or written) apart from its headline, so that an
-- erasure can drop it and keep the rest.
ALTER TABLE timeline_entries ADD COLUMN note text;
